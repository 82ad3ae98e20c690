"""Cost of negative sampling against the training compute it feeds, on Yelp2018 (one epoch).

Measured in one run, on the same shuffled batches of the 1,237,259 training pairs:

(a) per-example: ``UniformSampler(n_items, 100, exclude=train)`` -> ``[B, 100]`` negatives that are
    never a known positive;
(b) shared: ``UniformSampler(n_items, 800, shared=True, exclude=train)`` -> ``[800]`` pool plus the
    ``[B, 800]`` collision mask;
(c) grouped: the same sampler with ``group_size=128`` (as the reproduction rows) -> ``[G, 800]``
    pools, row ``r`` using pool ``r // ceil(B / G)``, plus their ``[B, 800]`` collision mask;
(d) baseline, the minimal training compute for the same batches: MF dim 64, gather, cosine
    scores (bmm per example, one matmul shared, one bmm over the groups), ``marginrank.losses.CCL``
    (margin 0.9, weight 150) with the mask, backward (no optimizer).

Timings on a shared 2-core machine are noisy; read the ratios, both sides measured in the same run.

    PYTHONPATH=src python benchmarks/sampling_speed.py [--max-batches K] [--batch-size 4096] [--threads 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from marginrank.data import read_lightgcn
from marginrank.losses import CCL
from marginrank.models.pooled_scores import grouped
from marginrank.sampling import UniformSampler
from marginrank.sampling.layout import rows_per_pool

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "sampling_speed.json"
TARGET_RATIO = 0.10
GROUP_SIZE = 128


def shared_data_dir() -> Path:
    return Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO / ".." / "shared" / "data"))


def run(matrix: sp.csr_matrix, batch_size: int, max_batches: int | None, dim: int = 64) -> dict:
    coo = matrix.tocoo()
    order = np.random.default_rng(0).permutation(coo.nnz)
    pair_users = torch.from_numpy(coo.row[order].astype(np.int64))
    pair_items = torch.from_numpy(coo.col[order].astype(np.int64))
    batches = list(zip(pair_users.split(batch_size), pair_items.split(batch_size)))[:max_batches]
    n_users, n_items = matrix.shape
    loss = CCL(margin=0.9, neg_weight=150.0)
    generator = torch.Generator().manual_seed(0)
    user_table = torch.nn.Parameter(0.1 * torch.randn(n_users, dim, generator=generator))
    item_table = torch.nn.Parameter(0.1 * torch.randn(n_items, dim, generator=generator))

    def train_per_example(users, items, negatives):
        u = F.normalize(user_table[users], dim=-1)
        p = F.normalize(item_table[items], dim=-1)
        n = F.normalize(item_table[negatives], dim=-1)
        neg_scores = torch.bmm(n, u.unsqueeze(-1)).squeeze(-1)
        loss((u * p).sum(-1), neg_scores).backward()

    def train_shared(users, items, pool, collision):
        u = F.normalize(user_table[users], dim=-1)
        p = F.normalize(item_table[items], dim=-1)
        n = F.normalize(item_table[pool], dim=-1)
        loss((u * p).sum(-1), u @ n.T, ~collision).backward()

    def train_grouped(users, items, pools, collision):
        u = F.normalize(user_table[users], dim=-1)
        p = F.normalize(item_table[items], dim=-1)
        n = F.normalize(item_table[pools], dim=-1)  # [G, N, dim]
        user_groups = grouped(u, pools.shape[0], rows_per_pool(users.numel(), pools))
        neg_scores = torch.bmm(user_groups, n.transpose(1, 2))
        loss((u * p).sum(-1), neg_scores.flatten(0, 1)[: users.numel()], ~collision).backward()

    per_example = UniformSampler(n_items, 100, exclude=matrix, seed=1)
    shared = UniformSampler(n_items, 800, shared=True, exclude=matrix, seed=2)
    pooled = UniformSampler(n_items, 800, shared=True, exclude=matrix, seed=3, group_size=GROUP_SIZE)
    cases = {"a": (per_example, train_per_example), "b": (shared, train_shared), "c": (pooled, train_grouped)}
    timing = {f"{case}_{part}": 0.0 for case in cases for part in ("sampling", "training")}
    for users, items in batches:
        for case, (sampler, train) in cases.items():
            start = time.perf_counter()
            negatives = sampler.sample(users)
            masks = (sampler.collision_mask(users, negatives),) if sampler.shared else ()  # per example: excluded
            middle = time.perf_counter()
            train(users, items, negatives, *masks)
            end = time.perf_counter()
            timing[f"{case}_sampling"] += middle - start
            timing[f"{case}_training"] += end - middle
            user_table.grad = item_table.grad = None

    pairs = int(sum(users.numel() for users, _ in batches))
    return {
        "dataset": "yelp2018",
        "training_pairs": pairs,
        "full_epoch": pairs == matrix.nnz,
        "batch_size": batch_size,
        "batches": len(batches),
        "embedding_dim": dim,
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores (shared, noisy)",
        "per_example_100_with_exclusion": _case(timing["a_sampling"], timing["a_training"]),
        "shared_800_with_collision_mask": _case(timing["b_sampling"], timing["b_training"]),
        f"grouped_{GROUP_SIZE}_800_with_collision_mask": _case(timing["c_sampling"], timing["c_training"]),
        "target_ratio": TARGET_RATIO,
    }


def _case(sampling: float, training: float) -> dict:
    ratio = sampling / training
    return {
        "sampling_s": round(sampling, 3),
        "training_compute_s": round(training, 3),
        "ratio": round(ratio, 4),
        "meets_target": ratio < TARGET_RATIO,
    }


def write_json_atomically(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
    with os.fdopen(handle, "w") as stream:
        json.dump(payload, stream, indent=2)
        stream.write("\n")
    os.replace(temporary, path)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch-size", type=int, default=4096)
    parser.add_argument("--max-batches", type=int, default=None, help="time only the first K batches")
    parser.add_argument("--threads", type=int, default=2, help="torch intra-op threads (default 2)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_file = shared_data_dir() / "yelp2018" / "train.txt"
    if not train_file.exists():
        raise SystemExit(f"Yelp2018 not found at {train_file} (set MARGINRANK_SHARED_DATA)")
    result = run(read_lightgcn(train_file).matrix.tocsr(), args.batch_size, args.max_batches)
    print(f"Yelp2018: {result['training_pairs']:,} pairs, {result['batches']} batches of {result['batch_size']}, "
          f"torch threads {result['torch_threads']} (timings noisy on a shared machine; ratios are same-run)")
    print(f"{'case':<38}{'sampling s':>12}{'training s':>12}{'ratio':>9}  target < {TARGET_RATIO:.0%}")
    for name in ("per_example_100_with_exclusion", "shared_800_with_collision_mask", f"grouped_{GROUP_SIZE}_800_with_collision_mask"):
        case = result[name]
        verdict = "met" if case["meets_target"] else "MISSED"
        print(f"{name:<38}{case['sampling_s']:>12.2f}{case['training_compute_s']:>12.2f}{case['ratio']:>9.2%}  {verdict}")
    write_json_atomically(args.output, result)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
