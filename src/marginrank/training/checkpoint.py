"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import os
import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from marginrank.atomic import atomic_open
from marginrank.errors import MarginRankError


def save_checkpoint(state: dict[str, Any], path: str | os.PathLike) -> None:
    """Save tensors and plain containers; a crash mid-write leaves the previous file intact."""
    with atomic_open(path, "wb") as handle:
        torch.save(state, handle)


def load_checkpoint(path: str | os.PathLike) -> dict[str, Any]:
    """Load a checkpoint; a missing, truncated or foreign file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise MarginRankError("checkpoint not found", path=str(path))
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (RuntimeError, EOFError, zipfile.BadZipFile, pickle.UnpicklingError, ValueError, OSError) as error:
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise MarginRankError(f"not a readable marginrank checkpoint ({first_line})", path=str(path)) from None
    if not isinstance(state, dict) or "format" not in state:
        raise MarginRankError("not a marginrank checkpoint (no 'format' entry)", path=str(path))
    return state
