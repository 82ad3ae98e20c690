"""Full-ranking evaluation speed on Yelp2018 (31,668 users x 38,048 items) and Gowalla (29,858 x
40,981): every user against every item, Recall@20 and NDCG@20, at 64 and 128 wide.

The baseline, measured in the same run, is the bare float32 product of all users against all items
(chunks of users into one reused buffer, the catalogue's own width): the arithmetic floor of a
straightforward evaluation. ``evaluate_embeddings`` computes the product a whole cache line wide
(zero columns past the last item), masks, takes each user's top k through block maxima and scores
the metrics. Embeddings: the ALS start that training begins from (scores spread as a trained
model's) and random normal ones. Prints a table and writes JSON (default
benchmarks/results/eval_speed.json). Target: under 3 s on Yelp2018 at 64 wide.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np
import torch

from marginrank.data import read_lightgcn_split
from marginrank.metrics import evaluate_embeddings
from marginrank.models.implicit_als import als_start

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASETS = ("yelp2018", "gowalla")


def best_of(repeats: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def embeddings(train, kind: str, dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    if kind == "ALS start":
        users, items = als_start(train.matrix, dim)
        return torch.from_numpy(users), torch.from_numpy(items)
    generator = torch.Generator().manual_seed(0)
    return torch.randn(train.n_users, dim, generator=generator), torch.randn(train.n_items, dim, generator=generator)


def measure(train, test, kind: str, dim: int, repeats: int, chunk: int) -> dict:
    users, items = embeddings(train, kind, dim)
    item_columns, buffer = items.T.contiguous(), torch.empty(chunk, train.n_items)

    def bare_product():
        for start in range(0, train.n_users, chunk):
            rows = users[start : start + chunk]
            torch.mm(rows, item_columns, out=buffer[: len(rows)])

    product, _ = best_of(repeats, bare_product)
    seconds, metrics = best_of(repeats, lambda: evaluate_embeddings(
        users, items, train.matrix, test.matrix, ks=(20,), metrics=("recall", "ndcg"), chunk_size=chunk))
    return {"embeddings": kind, "dim": dim, "product_seconds": product, "seconds": seconds,
            "ratio_to_product": seconds / product, **metrics}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dims", type=int, nargs="+", default=[64, 128])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "eval_speed.json")
    args = parser.parse_args()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Full-ranking evaluation, {torch.get_num_threads()} threads, chunks of {args.chunk_size} users, best of "
          f"{args.repeats} (timings on a shared machine are noisy)")
    print("| dataset | embeddings | dim | bare float32 product (s) | evaluation (s) | x product | Recall@20 | NDCG@20 |")
    print("|---|---|---|---|---|---|---|---|")
    rows = []
    for name in DATASETS:
        if not (SHARED / name / "train.txt").exists():
            print(f"skipped {name}: no LightGCN split under {SHARED} (set MARGINRANK_SHARED_DATA)")
            continue
        train, test = read_lightgcn_split(SHARED / name)
        for kind in ("ALS start", "random"):
            for dim in args.dims:
                row = {"dataset": name, "users": train.n_users, "items": train.n_items,
                       **measure(train, test, kind, dim, args.repeats, args.chunk_size)}
                rows.append(row)
                print(f"| {name} | {kind} | {dim} | {row['product_seconds']:.2f} | {row['seconds']:.2f} | "
                      f"{row['ratio_to_product']:.2f} | {row['recall@20']:.5f} | {row['ndcg@20']:.5f} |", flush=True)
    if not rows:
        return 0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    target = [row["seconds"] for row in rows if row["dataset"] == "yelp2018" and row["dim"] == 64]
    print(f"peak RSS {peak:.0f} MiB (before: {rss_before:.0f} MiB); target < 3 s on Yelp2018 at 64 wide: "
          f"{'met' if target and max(target) < 3 else 'missed' if target else 'not measured'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "eval_speed", "threads": torch.get_num_threads(), "chunk_size": args.chunk_size,
              "rows": rows, "peak_rss_mib": peak, "python": sys.version.split()[0], "torch": torch.__version__,
              "machine": platform.machine(), "numpy": np.__version__}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
