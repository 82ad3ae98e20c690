"""``marginrank evaluate RUN``: full-ranking metrics of a finished run on its test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from marginrank.cli.runs import CONFIG, load_run
from marginrank.cli.settings import resolve
from marginrank.cli.sources import load_source
from marginrank.cli.train import print_metrics
from marginrank.data import Interactions
from marginrank.errors import MarginRankError
from marginrank.recommender import Recommender


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a finished run on its test split")
    parser.add_argument("run", type=Path, help="run folder written by train")
    parser.add_argument("--data", type=Path, default=None, help="where the run's data file or folder is now (default: where it was trained)")
    parser.add_argument("--data-root", type=Path, default=None, help="where the run's named dataset lives now (default: where it was trained)")
    parser.add_argument("-k", "--ks", type=int, nargs="+", default=None, help="cut-offs (default: those of the run)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def _check_training_split(recommender: Recommender, train: Interactions, config: Path) -> None:
    """The data must still split into the training pairs the model saw, or the test split overlaps them."""
    same = (
        np.array_equal(recommender.user_ids, train.user_ids)
        and np.array_equal(recommender.item_ids, train.item_ids)
        and (recommender.seen.astype(bool) != train.matrix.astype(bool)).nnz == 0
    )
    if not same:
        raise MarginRankError(
            "the data no longer splits into the training pairs this model was trained on (the file changed, or "
            "split_seed did), so its test split is not the run's", path=str(config),
        )


def run(args: argparse.Namespace) -> int:
    recommender = load_run(args.run)
    settings = resolve(argparse.Namespace(config=args.run / CONFIG))  # checked, with file:line on a bad value
    data, data_root = args.data or settings.data, args.data_root or settings.data_root
    if args.data is None and data is not None and not data.exists():
        raise MarginRankError("the run's data is not there any more: pass --data with where it is now", path=str(data))
    dataset = load_source(settings.dataset, data, data_root, settings.split_seed)
    _check_training_split(recommender, dataset.train, args.run / CONFIG)
    ks = tuple(args.ks or recommender.params.ks)
    metrics = recommender.evaluate(dataset.test, ks)
    metrics["popularity"] = recommender.popularity(dataset.test, ks)
    for key in ("protocol", "optimistic", "best_epoch", "epochs_run", "stopped"):
        metrics[key] = recommender.metrics_.get(key)
    if args.json:
        print(json.dumps(metrics))
    else:
        print_metrics(metrics)
    return 0
