"""``marginrank inspect``: read and validate a dataset, print its statistics and the popularity baseline."""

from __future__ import annotations

import argparse
import json

from marginrank.cli.settings import run_settings
from marginrank.cli.sources import add_source_options, load_source
from marginrank.metrics import check_evaluation_split, evaluate_popularity


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "inspect",
        help="validate a dataset; print its statistics and the popularity baseline",
        description="Read a dataset (reporting the file and line of any problem), print its statistics "
        "and the full-ranking metrics of the popularity baseline.",
    )
    add_source_options(parser)
    parser.add_argument("-k", "--ks", type=int, nargs="+", default=None, help="cut-offs (default: 20, or the number of items if fewer)")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    dataset = load_source(run_settings(args))
    summary = dataset.summary()
    ks = args.ks or [min(20, dataset.n_items)]
    check_evaluation_split(dataset.train.matrix, dataset.test.matrix)
    baseline = evaluate_popularity(dataset.train.matrix, dataset.test.matrix, ks=ks)
    if args.json:
        print(json.dumps({"dataset": summary, "popularity": baseline}))
        return 0
    for key, value in summary.items():
        print(f"{key:>20}: {_format(value)}")
    print("popularity baseline (full ranking, training items excluded):")
    for key, value in baseline.items():
        print(f"{key:>20}: {value:.4f}")
    return 0


def _format(value) -> str:
    if isinstance(value, float):
        return f"{value:.5f}"
    return f"{value:,}" if isinstance(value, int) else str(value)
