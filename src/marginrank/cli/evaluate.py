"""``marginrank evaluate RUN``: full-ranking metrics of a finished run on its test split."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from marginrank.cli.runs import load_run, load_run_data
from marginrank.cli.train import print_metrics


def register(subparsers) -> None:
    parser = subparsers.add_parser("evaluate", help="evaluate a finished run on its test split")
    parser.add_argument("run", type=Path, help="run folder written by train")
    parser.add_argument("--data", type=Path, default=None, help="where the run's data file or folder is now (default: where it was trained)")
    parser.add_argument("--data-root", type=Path, default=None, help="where the run's named dataset lives now (default: where it was trained)")
    parser.add_argument("-k", "--ks", type=int, nargs="+", default=None, help="cut-offs (default: those of the run)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    recommender = load_run(args.run)
    dataset = load_run_data(args.run, recommender, data=args.data, data_root=args.data_root)
    ks = tuple(args.ks or recommender.params.ks)
    metrics = recommender.evaluate(dataset.test, ks)
    metrics["popularity"] = recommender.popularity(dataset.test, ks)
    for key in ("protocol", "optimistic", "best_epoch", "epochs_run", "stopped", "refit"):
        metrics[key] = recommender.metrics_.get(key)
    if args.json:
        print(json.dumps(metrics))
    else:
        print_metrics(metrics)
    return 0
