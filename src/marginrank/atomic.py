"""Atomic file writes: a temp file in the target folder, then ``os.replace``.

A reader never sees a half-written file, and an interrupted write leaves the old file intact. A write
the system refuses (a full disk, a quota, a folder in the way) is a :class:`MarginRankError` naming
the target, never the temp file.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from marginrank.errors import MarginRankError


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_open(
    path: str | os.PathLike, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None
) -> Iterator[IO]:
    """Open a temp file beside ``path``; on success it replaces ``path``, on error it is removed.
    The file gets the permissions ``open`` would give it (the temp file's private 0600 would make
    results unreadable to the rest of a team on a shared file system)."""
    path = Path(path)
    if path.is_dir():
        raise MarginRankError("is a folder; name a file to write", path=str(path))
    binary = "b" in mode
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as error:
        raise not_written(path, error) from None
    try:
        os.fchmod(fd, 0o666 & ~_umask())
        text_options = {} if binary else {"encoding": encoding, "newline": newline}
        with os.fdopen(fd, mode, **text_options) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, path)
    except BaseException as error:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        if isinstance(error, OSError):
            raise not_written(path, error) from None
        raise


def not_written(path: str | os.PathLike, error: OSError) -> MarginRankError:
    """The error for a write of ``path`` that the system refused with ``error``."""
    reason = error.strerror or str(error)
    return MarginRankError(f"not written ({reason[:1].lower()}{reason[1:]}); the file there before, if any, is unchanged",
                           path=str(path))


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    with atomic_open(path, "w") as handle:
        handle.write(text)
