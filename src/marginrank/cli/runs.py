"""The run folder: where ``train`` writes and the other sub-commands read."""

from __future__ import annotations

from pathlib import Path

from marginrank.errors import MarginRankError
from marginrank.recommender import Recommender
from marginrank.training.run_folder import file_sizes

CONFIG, MODEL, METRICS, LOG = "config.toml", "model.pt", "metrics.json", "log.jsonl"


def fresh_run_dir(requested: Path | None, stem: str) -> Path:
    """``requested`` if given (it must not hold a finished run), else ``runs/<stem>``, ``runs/<stem>-2``, ..."""
    if requested is not None:
        if (requested / MODEL).exists() or (requested / "last.pt").exists():
            raise MarginRankError("already holds a run: pass --resume to continue it, or another --out", path=str(requested))
        return requested
    candidate, number = Path("runs") / stem, 1
    while candidate.exists():
        number += 1
        candidate = Path("runs") / f"{stem}-{number}"
    return candidate


def load_run(run: Path) -> Recommender:
    if not run.is_dir():
        raise MarginRankError("run folder not found", path=str(run))
    if not (run / MODEL).exists():
        raise MarginRankError(f"no {MODEL} here: the run has not finished (resume it with train --resume --out)", path=str(run))
    return Recommender.load(run / MODEL)


def sizes_line(run: Path) -> str:
    """One line of where a run folder's space goes: its total, then each file, largest first."""
    sizes = file_sizes(run)
    files = ", ".join(f"{name} {_size(size)}" for name, size in sizes.items())
    return f"run folder {run}: {_size(sum(sizes.values()))} ({files})"


def _size(count: int) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.1f} {unit}"
    return f"{count} B"
