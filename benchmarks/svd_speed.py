"""Speed and accuracy of the truncated SVD behind the low-pass and ALS starts, on Yelp2018 and Gowalla.

Both columns compute the top ``rank`` right singular vectors ``V`` of the degree-normalized
interaction matrix ``A = D_u^-1/2 R D_i^-1/2`` by randomized subspace iteration with the same number
of power iterations, from CSR tensors, 2 threads:

- baseline, measured in the same run: ``torch.svd_lowrank(A, q=rank, niter=...)``, the call the start
  used before :func:`marginrank.models.spectral_init.right_singular_vectors`;
- ``right_singular_vectors``: the transpose built once, and the small SVD taken of a ``rank x rank``
  triangle instead of the ``rank x n_items`` projection.

Accuracy: the energy the vectors capture, ``|A V|_F^2`` (the sum of the squared singular values they
estimate; the larger the closer to the exact top ``rank``), and the largest of them, ``|A v_1|`` (the
exact value is 1 for this normalization). Prints a table and writes JSON (default
benchmarks/results/svd_speed.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from marginrank.data import read_lightgcn_split
from marginrank.atomic import atomic_write_text
from marginrank.models.propagation import degree_normalized
from marginrank.models.spectral_init import POWER_ITERATIONS, csr_tensor, right_singular_vectors

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASETS = ("yelp2018", "gowalla")


def torch_lowrank(matrix: sp.csr_matrix, rank: int) -> np.ndarray:
    torch.manual_seed(0)
    return torch.svd_lowrank(csr_tensor(matrix), q=rank, niter=POWER_ITERATIONS)[2].numpy()


def median_of(repeats: int, run) -> tuple[float, np.ndarray]:
    times, result = [], None
    for _ in range(repeats):
        start = time.perf_counter()
        result = run()
        times.append(time.perf_counter() - start)
    return float(np.median(times)), result


def accuracy(matrix: sp.csr_matrix, vectors: np.ndarray) -> dict[str, float]:
    products = matrix @ vectors
    return {"energy": float(np.square(products).sum()), "largest": float(np.linalg.norm(products, axis=0).max())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ranks", type=int, nargs="+", default=[63, 127, 255, 383])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "svd_speed.json")
    args = parser.parse_args()
    torch.set_num_threads(2)
    print(f"Top right singular vectors of D_u^-1/2 R D_i^-1/2, {POWER_ITERATIONS} power iterations, 2 threads, "
          f"median of {args.repeats} (timings on a shared machine are noisy)")
    print("| dataset | rank | torch.svd_lowrank (s) | right_singular_vectors (s) | speed-up | energy: torch | ours | largest: torch | ours |")
    print("|---|---|---|---|---|---|---|---|---|")
    rows = []
    for name in DATASETS:
        if not (SHARED / name / "train.txt").exists():
            print(f"skipped {name}: no LightGCN split under {SHARED} (set MARGINRANK_SHARED_DATA)")
            continue
        matrix = degree_normalized(read_lightgcn_split(SHARED / name)[0].matrix)
        for rank in args.ranks:
            baseline, theirs = median_of(args.repeats, lambda: torch_lowrank(matrix, rank))
            seconds, ours = median_of(args.repeats, lambda: right_singular_vectors(matrix, rank, POWER_ITERATIONS))
            row = {"dataset": name, "rank": rank, "torch_seconds": baseline, "seconds": seconds,
                   "speedup": baseline / seconds, "torch": accuracy(matrix, theirs), "ours": accuracy(matrix, ours)}
            rows.append(row)
            print(f"| {name} | {rank} | {baseline:.2f} | {seconds:.2f} | {row['speedup']:.2f}x | "
                  f"{row['torch']['energy']:.2f} | {row['ours']['energy']:.2f} | "
                  f"{row['torch']['largest']:.4f} | {row['ours']['largest']:.4f} |", flush=True)
    if not rows:
        return 0
    result = {"benchmark": "svd_speed", "threads": 2, "power_iterations": POWER_ITERATIONS, "rows": rows,
              "python": sys.version.split()[0], "torch": torch.__version__, "machine": platform.machine(),
              "numpy": np.__version__}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out, json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
