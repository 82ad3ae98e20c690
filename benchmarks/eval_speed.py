"""Full-ranking evaluation speed on Yelp2018 (31,668 users x 38,048 items), random 64-dim embeddings.

Prints a table and writes JSON (default benchmarks/results/eval_speed.json). The baseline measured
in the same run is the bare matrix product of all users against all items (the arithmetic floor);
the ratio evaluation / matrix product is what to read on a noisy machine. Target: under 3 s.
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

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data")) / "yelp2018"


def best_of(repeats: int, run) -> tuple[float, object]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return min(times), result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--chunk-sizes", type=int, nargs="+", default=[1024, 2048, 4096])
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "eval_speed.json")
    args = parser.parse_args()
    if not (args.data / "train.txt").exists():
        print(f"skipped: {args.data} has no train.txt (set MARGINRANK_SHARED_DATA)")
        return 0
    train, test = read_lightgcn_split(args.data)
    generator = torch.Generator().manual_seed(0)
    users = torch.randn(train.n_users, args.dim, generator=generator)
    items = torch.randn(train.n_items, args.dim, generator=generator)
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

    def matmul_floor():
        for start in range(0, train.n_users, 4096):
            users[start : start + 4096] @ items.T

    floor, _ = best_of(args.repeats, matmul_floor)
    rows = []
    for chunk in args.chunk_sizes:
        seconds, metrics = best_of(
            args.repeats, lambda: evaluate_embeddings(users, items, train.matrix, test.matrix, ks=(20,), chunk_size=chunk)
        )
        rows.append({"chunk_size": chunk, "seconds": seconds, "ratio_to_matmul": seconds / floor,
                     "score_chunk_mib": chunk * train.n_items * 4 / 2**20, "recall@20": metrics["recall@20"]})
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"Full-ranking evaluation, Yelp2018 {train.n_users:,} users x {train.n_items:,} items, dim {args.dim}, "
          f"{torch.get_num_threads()} threads (best of {args.repeats}; timings on a shared machine are noisy)")
    print(f"matrix product alone (baseline): {floor:.2f} s")
    print("| chunk | seconds | x matmul | score chunk MiB | recall@20 |")
    print("|---|---|---|---|---|")
    for row in rows:
        print(f"| {row['chunk_size']} | {row['seconds']:.2f} | {row['ratio_to_matmul']:.2f} | "
              f"{row['score_chunk_mib']:.0f} | {row['recall@20']:.5f} |")
    print(f"peak RSS {peak:.0f} MiB (data and embeddings alone: {rss_before:.0f} MiB); target < 3 s: "
          f"{'met' if min(r['seconds'] for r in rows) < 3 else 'missed'}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "eval_speed", "users": train.n_users, "items": train.n_items, "dim": args.dim,
              "threads": torch.get_num_threads(), "matmul_seconds": floor, "rows": rows,
              "peak_rss_mib": peak, "python": sys.version.split()[0], "torch": torch.__version__,
              "machine": platform.machine(), "numpy": np.__version__}
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    tmp.replace(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
