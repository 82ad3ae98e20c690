"""What a user gets without flags: seconds per epoch and Recall@20 after each epoch, default settings
against the published per-example protocol (``preset = "paper"``), measured one after the other.

Runs ``Recommender(loss=..., negatives=...)`` with nothing else set, as ``marginrank train --data
<split> --loss ccl --negatives 800`` does, on the built-in synthetic dataset and on the Yelp2018
LightGCN split (``../shared/data``, or ``$MARGINRANK_SHARED_DATA``; skipped where absent), under the
papers' protocol so each epoch's Recall@20 is on the test split, next to the popularity ranking.

Prints a table and writes benchmarks/results/defaults.json.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from marginrank import Recommender, datasets
from marginrank.atomic import atomic_write_text
from marginrank.cli.settings import PRESETS

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data"))
PAPER_PRESET = PRESETS["paper"]
RUNS = [  # (dataset, loss, negatives, label, settings beyond the defaults, epochs)
    ("synthetic", "mmcl", 100, "default", {}, 3),
    ("synthetic", "mmcl", 100, "preset paper", PAPER_PRESET, 3),
    ("yelp2018", "ccl", 800, "default", {}, 3),
    ("yelp2018", "ccl", 800, "default, exclude_positives on", {"exclude_positives": True}, 3),
    ("yelp2018", "bsl", 800, "default", {}, 3),
    ("yelp2018", "ccl", 800, "preset paper", PAPER_PRESET, 1),
]


def run(dataset, loss: str, negatives: int, label: str, settings: dict, epochs: int) -> dict:
    start = time.perf_counter()
    rec = Recommender(loss=loss, negatives=negatives, epochs=epochs, protocol="paper", progress=False, **settings).fit(dataset)
    history = rec.result_.trained
    return {
        "dataset": dataset.name, "loss": loss, "negatives": negatives, "settings": label,
        "scaled_settings": rec.metrics_["scaled_settings"],
        "seconds_per_epoch": [round(r["seconds"], 2) for r in history],
        "eval_seconds": [round(r.get("eval_seconds", 0.0), 2) for r in history],
        "recall@20": [round(r["metrics"]["recall@20"], 4) for r in history],
        "popularity_recall@20": round(rec.metrics_["popularity"]["recall@20"], 4),
        "wall_seconds": round(time.perf_counter() - start, 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", default=None, help="datasets to run (synthetic, yelp2018)")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "defaults.json")
    args = parser.parse_args()
    loaded = {}
    results = []
    for name, loss, negatives, label, settings, epochs in RUNS:
        if args.only and name not in args.only:
            continue
        if name != "synthetic" and not (SHARED / name / "train.txt").exists():
            print(f"skipped {name}: no real data under {SHARED} (set MARGINRANK_SHARED_DATA)")
            continue
        if name not in loaded:
            loaded[name] = datasets.load(name, root=SHARED, download=False) if name != "synthetic" else datasets.load(name)
        results.append(run(loaded[name], loss, negatives, label, settings, epochs))
        print(json.dumps(results[-1]), flush=True)
    print("\n| data | loss | settings | batch, lr, group | s / epoch | Recall@20 per epoch | popularity |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        scaled = r["scaled_settings"]
        print(f"| {r['dataset']} | {r['loss']}-{r['negatives']} | {r['settings']} | {scaled['batch_size']}, {scaled['lr']:.2g}, "
              f"{scaled['group_size']} | {', '.join(map(str, r['seconds_per_epoch']))} | {', '.join(map(str, r['recall@20']))} | "
              f"{r['popularity_recall@20']} |")
    atomic_write_text(args.out, json.dumps({"threads": os.cpu_count(), "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
