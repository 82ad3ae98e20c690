"""Run folders: recognised by a marker file, written by one training at a time.

A training claims its folder before it writes there: the claim creates the marker
``.marginrank-run`` and holds an exclusive ``fcntl.flock`` on it until the training ends. The
operating system releases the lock when the process ends, crash included, so a dead run never
leaves its folder locked. A second training into a folder in use, and any training into a
non-empty folder without the marker (files marginrank did not write), are refused before anything
is written.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from marginrank.errors import MarginRankError

MARKER = ".marginrank-run"

_held: dict[Path, int] = {}  # folders this process has claimed -> the marker's open descriptor


@contextlib.contextmanager
def claim(folder: str | os.PathLike) -> Iterator[Path]:
    """Hold ``folder`` as a run folder for the block (created if absent; a claim nested in one of
    the same process holds nothing more). A block that fails in a folder it created and left empty
    but for the marker removes it."""
    folder = Path(folder)
    key = folder.resolve()
    if key in _held:
        yield folder
        return
    if folder.is_dir() and any(folder.iterdir()) and not (folder / MARKER).exists():
        raise MarginRankError(f"holds files and no {MARKER}: not a marginrank run folder (or one of an older version); "
                              "train into a new or empty folder", path=str(folder))
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / MARKER, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.read(fd, 32).decode(errors="replace").strip()
        os.close(fd)
        raise MarginRankError(f"in use by another training (process {holder or 'unknown'}): wait for it to end, "
                              "or train into another folder", path=str(folder)) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    _held[key] = fd
    try:
        yield folder
    except BaseException:
        if created and [entry.name for entry in folder.iterdir()] == [MARKER]:
            (folder / MARKER).unlink()
            folder.rmdir()
        raise
    finally:
        del _held[key]
        os.close(fd)


def file_sizes(folder: str | os.PathLike) -> dict[str, int]:
    """The sizes in bytes of the files under ``folder`` (paths relative to it), largest first; the markers left out."""
    folder = Path(folder)
    sizes = {path.relative_to(folder).as_posix(): path.stat().st_size
             for path in folder.rglob("*") if path.is_file() and path.name != MARKER}
    return dict(sorted(sizes.items(), key=lambda item: item[1], reverse=True))
