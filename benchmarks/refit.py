"""Honest numbers that keep the quality: the validation protocol with ``refit`` against the papers'
protocol, on the same row and settings.

Each row runs twice, one after the other: ``protocol="paper"`` (the epoch picked on the test split,
optimistic) and ``protocol="validation", refit=True`` (the epoch and its learning rates picked on a
10% validation share of the training pairs, then a retraining on every training pair for that
many epochs, the test split read once at the end). The rows are the fast-path defaults with the
loss and the number of negatives set (``marginrank train --loss bsl --negatives 800``), capped at
``--epochs`` epochs in both runs.

Prints a table and writes benchmarks/results/refit.json (rows measured again replace their earlier
figures; the others are kept).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from marginrank import Recommender, datasets
from marginrank.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data"))
ROWS = [("yelp2018", "bsl", 800), ("gowalla", "bsl", 800), ("yelp2018", "mmcl", 800), ("gowalla", "mmcl", 800)]
PROTOCOLS = {"paper": {"protocol": "paper"}, "validation + refit": {"protocol": "validation", "refit": True}}


def run(dataset, loss: str, negatives: int, epochs: int, settings: dict) -> dict:
    start = time.perf_counter()
    rec = Recommender(loss=loss, negatives=negatives, epochs=epochs, progress=False, **settings).fit(dataset)
    return {"recall@20": rec.metrics_["recall@20"], "ndcg@20": rec.metrics_["ndcg@20"],
            "best_epoch": rec.metrics_["best_epoch"], "refit": rec.metrics_.get("refit"),
            "seconds": round(time.perf_counter() - start, 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--only", nargs="+", default=None, help="rows as data-loss-negatives, e.g. yelp2018-bsl-800")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "refit.json")
    args = parser.parse_args()
    kept = json.loads(args.out.read_text())["rows"] if args.out.exists() else []
    results, loaded = [], {}
    for name, loss, negatives in ROWS:
        row = f"{name}-{loss}-{negatives}"
        if args.only and row not in args.only:
            continue
        if not (SHARED / name / "train.txt").exists():
            print(f"skipped {row}: no LightGCN split under {SHARED} (set MARGINRANK_SHARED_DATA)")
            continue
        if name not in loaded:
            loaded[name] = datasets.load(name, root=SHARED, download=False)
        measured = {label: run(loaded[name], loss, negatives, args.epochs, settings) for label, settings in PROTOCOLS.items()}
        ratio = measured["validation + refit"]["recall@20"] / measured["paper"]["recall@20"]
        results.append({"row": row, "epochs": args.epochs, **measured, "refit / paper": ratio})
        print(json.dumps(results[-1]), flush=True)
    print("\n| row | paper: Recall@20 (epoch) | validation + refit: Recall@20 (epochs) | ratio |")
    print("|---|---|---|---|")
    for r in results:
        paper, honest = r["paper"], r["validation + refit"]
        print(f"| {r['row']} | {paper['recall@20']:.4f} ({paper['best_epoch']}) | {honest['recall@20']:.4f} "
              f"({honest['refit']['epochs']}) | {r['refit / paper']:.3f} |")
    if results:
        measured_rows = {r["row"] for r in results}
        rows = [r for r in kept if r["row"] not in measured_rows] + results
        atomic_write_text(args.out, json.dumps({"threads": torch.get_num_threads(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
