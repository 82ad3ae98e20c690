"""The run folder: where ``train`` writes and the other sub-commands read."""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

import numpy as np

from marginrank.cli.settings import resolve
from marginrank.cli.sources import STDIN, load_source
from marginrank.data import Dataset
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


def load_run_data(run: Path, recommender: Recommender, *, data: Path | None = None, data_root: Path | None = None) -> Dataset:
    """The dataset the run's ``config.toml`` names (``data`` / ``data_root``: where it is now, if it moved),
    checked to split into the training pairs the model saw (otherwise its test split is not the run's)."""
    settings = resolve(argparse.Namespace(config=run / CONFIG))  # checked, with file:line on a bad value
    if data is None and settings.data not in (None, STDIN) and not settings.data.exists():
        raise MarginRankError("the run's data is not there any more: pass --data with where it is now", path=str(settings.data))
    settings = dataclasses.replace(settings, data=data or settings.data, data_root=data_root or settings.data_root)
    dataset = load_source(settings)
    train = dataset.train
    same = (
        np.array_equal(recommender.user_ids, train.user_ids)
        and np.array_equal(recommender.item_ids, train.item_ids)
        and (recommender.seen.astype(bool) != train.matrix.astype(bool)).nnz == 0
    )
    if not same:
        raise MarginRankError(
            "the data no longer splits into the training pairs this model was trained on (the file changed, or "
            "split_seed did), so its test split is not the run's", path=str(run / CONFIG),
        )
    return dataset


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
