"""Checkpoints: written atomically, read with ``torch.load(weights_only=True)``."""

from __future__ import annotations

import os
from collections.abc import Iterable
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
    except Exception as error:  # torch's restricted unpickler fails on foreign bytes in many ways
        first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
        first_line = f"{type(error).__name__}: {first_line}" if first_line else type(error).__name__
        raise MarginRankError(f"not a readable marginrank checkpoint ({first_line})", path=str(path)) from None
    if not isinstance(state, dict) or "format" not in state:
        raise MarginRankError("not a marginrank checkpoint (no 'format' entry)", path=str(path))
    return state


def require_entries(state: dict[str, Any], names: Iterable[str], path: str | os.PathLike | None) -> None:
    """A checkpoint of the right format that lacks entries (edited, or written by hand) is a clear error."""
    missing = [name for name in names if name not in state]
    if missing:
        raise MarginRankError(f"checkpoint lacks {', '.join(missing)}", path=None if path is None else str(path))
