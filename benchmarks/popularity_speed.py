"""Speed of the popularity baseline under full ranking on a synthetic catalogue of the given size.

Defaults: 5M interactions, 200,000 users x 100,000 items, item popularity Zipf-like (exponent 1),
an 80/20 split per user. Prints the seconds of ``evaluate_popularity`` (best of ``--repeats``)
and recall@20, and writes them as JSON (default benchmarks/results/popularity_speed.json).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from marginrank.metrics import evaluate_popularity

REPO = Path(__file__).resolve().parents[1]


def synthetic_split(n_pairs: int, n_users: int, n_items: int, seed: int = 0) -> tuple[sp.csr_matrix, sp.csr_matrix]:
    """Train and test matrices: users uniform, items drawn with probability ~ 1 / rank, 20% of pairs to test."""
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, n_items + 1)
    items = rng.choice(n_items, size=n_pairs, p=weights / weights.sum())
    users = rng.integers(0, n_users, size=n_pairs)
    pairs = sp.csr_matrix((np.ones(n_pairs, dtype=np.float32), (users, items)), shape=(n_users, n_items))
    pairs.sum_duplicates()
    pairs.data[:] = 1.0
    coo = pairs.tocoo()
    held = rng.random(coo.nnz) < 0.2
    split = [sp.csr_matrix((coo.data[keep], (coo.row[keep], coo.col[keep])), shape=pairs.shape) for keep in (~held, held)]
    return split[0], split[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5_000_000)
    parser.add_argument("--users", type=int, default=200_000)
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "popularity_speed.json")
    args = parser.parse_args()
    train, test = synthetic_split(args.pairs, args.users, args.items)
    times, metrics = [], {}
    for _ in range(args.repeats):
        start = time.perf_counter()
        metrics = evaluate_popularity(train, test, (20,))
        times.append(time.perf_counter() - start)
    result = {"pairs": int(train.nnz + test.nnz), "users": args.users, "items": args.items,
              "seconds": min(times), "recall@20": metrics["recall@20"], "ndcg@20": metrics["ndcg@20"]}
    print(json.dumps(result))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
