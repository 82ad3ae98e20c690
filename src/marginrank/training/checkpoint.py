"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import errno
import os
import warnings
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import torch

from marginrank.atomic import atomic_open, not_written
from marginrank.errors import MarginRankError

# the system's failures that torch's zip writer reports only in the text of a RuntimeError
WRITE_FAILURES = tuple(OSError(code, os.strerror(code)) for code in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO))


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Save tensors and plain containers; a crash or a full disk mid-write leaves the previous file intact."""
    try:
        with atomic_open(path, "wb") as handle:
            torch.save(state, handle)
    except RuntimeError as error:
        failure = next((failure for failure in WRITE_FAILURES if failure.strerror in str(error)), None)
        if failure is None:
            raise
        raise not_written(path, failure) from None


def load_checkpoint(path: str | os.PathLike, *, mmap: bool = False) -> dict[str, Any]:
    """Load a checkpoint (with ``mmap``, tensors are read only when used); a missing, truncated or
    foreign file is a clear error. torch's own message is not passed on: it advises loading without
    ``weights_only``, which would run the file's code; nor are its warnings about the pickle inside
    a foreign file."""
    path = Path(path)
    if not path.is_file():
        raise MarginRankError("checkpoint not found", path=str(path))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            state = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except Exception:  # torch's restricted unpickler fails on foreign bytes in many ways
        raise MarginRankError("not a marginrank model or checkpoint (it cannot be read as one)", path=str(path)) from None
    if not isinstance(state, dict) or "format" not in state:
        raise MarginRankError("not a marginrank checkpoint (no 'format' entry)", path=str(path))
    return state


def require_entries(state: dict[str, Any], names: Iterable[str], path: str | os.PathLike | None) -> None:
    """A checkpoint of the right format that lacks entries (edited, or written by hand) is a clear error."""
    missing = [name for name in names if name not in state]
    if missing:
        raise MarginRankError(f"checkpoint lacks {', '.join(missing)}", path=None if path is None else str(path))
