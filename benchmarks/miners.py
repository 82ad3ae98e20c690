"""What hard-negative mining does to training on Gowalla: Recall@20 per epoch and seconds per epoch.

Every run starts from the Gowalla BSL-800 reproduction row (its config file: MF, cosine, 800
uniform negatives per group of 32 rows, batch 1024) and changes only where the loss's negatives
come from. The 800 drawn negatives become the candidates; a miner picks, per row, the ones the loss
sees (their scores are gathered from the candidates' scores, so the forward pass is the same and
only the picked entries get a gradient). ``in-batch`` takes the batch's other positives instead.
The first row, the row as it is, is the baseline measured in the same run. Under the papers'
protocol (test split monitored every epoch) for ``--epochs`` epochs each.

Prints a table and writes benchmarks/results/miners.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import reproduce  # beside this script
from marginrank import Recommender, datasets
from marginrank.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
ROW = "gowalla-bsl-800"
VARIANTS = {
    "uniform 800 (the row)": {},
    "hard: top 100 of the 800": {"miner": "hard", "miner_params": {"k": 100}},
    "hard: top 10 of the 800": {"miner": "hard", "miner_params": {"k": 10}},
    "mixed: top 50 + 50 uniform of the 800": {"miner": "mixed", "miner_params": {"n_hard": 50, "n_uniform": 50}},
    "semi-hard: 100 in the band 0.1 below the positive": {"miner": "semi-hard", "miner_params": {"margin": 0.1, "num_negatives": 100}},
    "warmup: uniform 100 for 1 epoch, then top 100": {"miner": "warmup", "miner_params": {"k": 100, "warmup_epochs": 1}},
    "in-batch: the batch's 1023 other positives": {"sampler": "in-batch", "shared_negatives": False, "group_size": None},
}


def run(dataset, overrides: dict, epochs: int) -> dict:
    _, table = reproduce.recommender_settings(ROW)
    table.update(overrides, epochs=epochs, protocol="paper", patience=None, lr_patience=None, progress=False)
    start = time.perf_counter()
    rec = Recommender(**table).fit(dataset)
    history = rec.result_.trained
    return {"overrides": overrides, "wall_s": time.perf_counter() - start,
            "recall@20": [r["metrics"]["recall@20"] for r in history],
            "seconds_per_epoch": sum(r["seconds"] for r in history) / len(history)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "miners.json")
    args = parser.parse_args()
    if not (reproduce.SHARED / "gowalla" / "train.txt").exists():
        print(f"skipped: no Gowalla split under {reproduce.SHARED} (set MARGINRANK_SHARED_DATA)")
        return 0
    dataset = datasets.load("gowalla", root=reproduce.SHARED, download=False)
    results = {}
    for name, overrides in VARIANTS.items():
        results[name] = run(dataset, overrides, args.epochs)
        print(json.dumps({name: results[name]}), flush=True)
    baseline = results[next(iter(VARIANTS))]
    print(f"Gowalla, MF + BSL-800 row, {args.epochs} epochs, test Recall@20 (papers' protocol)")
    print("| negatives the loss sees | Recall@20 after 1 / last epoch | best | s per epoch | vs the row |\n|---|---|---|---|---|")
    for name, result in results.items():
        curve = result["recall@20"]
        print(f"| {name} | {curve[0]:.4f} / {curve[-1]:.4f} | {max(curve):.4f} | {result['seconds_per_epoch']:.1f} | "
              f"{max(curve) / max(baseline['recall@20']) - 1:+.1%} |")
    atomic_write_text(args.out, json.dumps({"row": ROW, "epochs": args.epochs, "runs": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
