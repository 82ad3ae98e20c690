"""``marginrank export RUN``: the embeddings as .npy, with the raw-id maps as text."""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from marginrank.atomic import atomic_open, atomic_write_text
from marginrank.cli.runs import load_run


def register(subparsers) -> None:
    parser = subparsers.add_parser("export", help="write a run's user and item embeddings (.npy) and id maps")
    parser.add_argument("run", type=Path, help="run folder written by train")
    parser.add_argument("--out", type=Path, default=None, help="folder (default: RUN/export)")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    recommender = load_run(args.run)
    out = args.out or args.run / "export"
    model = recommender.model
    for name, values in (("user_factors", model.user_factors()), ("item_factors", model.item_factors())):
        with atomic_open(out / f"{name}.npy", "wb") as handle:
            np.save(handle, values.cpu().numpy())
    for name, ids in (("user_ids", recommender.user_ids), ("item_ids", recommender.item_ids)):
        atomic_write_text(out / f"{name}.txt", "".join(f"{value}\n" for value in ids.tolist()))
    print(f"wrote user_factors.npy, item_factors.npy (score = dot product of rows), user_ids.txt, item_ids.txt to {out}")
    return 0
