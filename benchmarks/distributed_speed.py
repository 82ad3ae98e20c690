"""Data-parallel training speed on Gowalla: one epoch with 1 process and with 2 processes (torchrun,
gloo), for each way of averaging gradients, and the bytes each rank sends per step.

Run ``PYTHONPATH=src python benchmarks/distributed_speed.py``. It launches every configuration as a
separate job (``python -m torch.distributed.run`` for 2 processes) of this same script with
``--worker``, which trains MF (cosine, dim 64) with MMCL and 800 shared uniform negatives, global
batch 2048, Adam (dense gradients) or SparseAdam (``--sparse``), for one epoch and no evaluation.
Thread budget: 1 process gets 2 threads, each of 2 processes gets 1, so every job uses the same
cores. Timings on a shared machine are noisy: read the ratios to the 1-process epoch of the same run.
Writes ``benchmarks/results/distributed_speed.json`` and ``.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data")) / "gowalla"
RESULTS = REPO / "benchmarks" / "results"
CORES = 2
# (processes, grad_sync, sparse): the 1-process runs are the baselines of their optimizer; ddp does not
# take sparse embedding gradients (marginrank refuses that pairing), so it runs with Adam only
CONFIGS = [
    (1, "rows", False), (2, "rows", False), (2, "dense", False), (2, "ddp", False),
    (1, "rows", True), (2, "rows", True), (2, "dense", True),
]


def worker(args: argparse.Namespace) -> None:
    """One epoch under the environment torchrun set (or none); rank 0 writes its measurements."""
    from marginrank import losses
    from marginrank.data import read_lightgcn_split
    from marginrank.models import MF
    from marginrank.sampling import UniformSampler
    from marginrank.training import InteractionTask, Trainer, make_optimizer
    from marginrank.training.distributed import from_environment, leave

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    process = from_environment()
    train, _ = read_lightgcn_split(args.data)
    torch.manual_seed(0)
    model = MF(train.n_users, train.n_items, args.dim, similarity="cosine", dropout=0.1, sparse=args.sparse)
    sampler = UniformSampler(train.n_items, args.negatives, shared=True, exclude=train.matrix, seed=0)
    trainer = Trainer(
        model, InteractionTask(train, sampler, batch_size=args.batch_size, process=process), losses.get("mmcl"),
        make_optimizer("adam", model.parameters(), 1e-3, sparse=args.sparse),
        seed=0, progress=False, process=process, grad_sync=args.grad_sync,
    )
    steps = -(-len(train) // args.batch_size)
    sync_seconds, calls, last_step_grads = 0.0, 0, []
    synchronize = trainer.sync.synchronize

    def timed_synchronize() -> int:  # the exchange, waits included (DDP does it inside backward: not separable)
        nonlocal sync_seconds, calls, last_step_grads
        calls += 1
        if calls == steps:
            last_step_grads = [p.grad.clone() for p in model.parameters()]
        start = time.perf_counter()
        sent = synchronize()
        sync_seconds += time.perf_counter() - start
        return sent

    trainer.sync.synchronize = timed_synchronize
    record = trainer.fit(epochs=1).history[0]
    separable = process.active and args.grad_sync != "ddp"
    exchange = exchange_alone(model, synchronize, last_step_grads) if separable else None
    if process.is_main:
        args.result.write_text(json.dumps({
            "epoch_seconds": record["seconds"], "loss": record["loss"], "steps": steps,
            "bytes_per_step": trainer.bytes_communicated / steps,
            "sync_seconds_per_step": sync_seconds / steps if separable else None,
            "exchange_alone_seconds": exchange,
        }))
    del trainer
    leave()


def exchange_alone(model: torch.nn.Module, synchronize, grads: list[torch.Tensor], repeats: int = 20) -> float:
    """Median seconds of one exchange of the last step's gradients, the ranks lined up by a barrier first."""
    import torch.distributed as dist

    times = []
    for _ in range(repeats):
        for parameter, grad in zip(model.parameters(), grads):
            parameter.grad = grad.clone()
        dist.barrier()
        start = time.perf_counter()
        synchronize()
        times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def launch(processes: int, grad_sync: str, sparse: bool, args: argparse.Namespace) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        result = Path(folder) / "result.json"
        script = [str(Path(__file__).resolve()), "--worker", "--grad-sync", grad_sync, "--result", str(result),
                  "--data", str(args.data), "--dim", str(args.dim), "--negatives", str(args.negatives),
                  "--batch-size", str(args.batch_size)] + (["--sparse"] if sparse else [])
        launcher = [sys.executable] if processes == 1 else [
            sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}"]
        env = {**os.environ, "OMP_NUM_THREADS": str(CORES // processes),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO / "src"), os.environ.get("PYTHONPATH")]))}
        start = time.perf_counter()
        done = subprocess.run(launcher + script, env=env, capture_output=True, text=True, timeout=1800)
        failure = next((line for line in done.stderr.splitlines() if "terminate called" in line or "Error" in line), "")
        measured = json.loads(result.read_text()) if done.returncode == 0 else {"failed": f"exit {done.returncode}: {failure}"}
    return {"processes": processes, "threads_per_process": CORES // processes,
            "grad_sync": grad_sync if processes > 1 else "none", "optimizer": "SparseAdam" if sparse else "Adam",
            "job_seconds": time.perf_counter() - start, **measured}


def report(rows: list[dict], args: argparse.Namespace, n_pairs: int, n_users: int, n_items: int) -> str:
    table_mib = (n_users + n_items) * args.dim * 4 / 2**20
    lines = [
        "# Data-parallel training speed: 1 vs 2 processes (gloo, CPU)",
        "",
        f"Gowalla ({n_pairs:,} training pairs, {n_users:,} users x {n_items:,} items), MF cosine dim {args.dim} "
        f"({table_mib:.1f} MiB of embedding tables, replicated on every rank), MMCL, {args.negatives} shared uniform "
        f"negatives, global batch {args.batch_size}, one epoch, no evaluation. 1 process runs 2 threads; each of 2 "
        f"processes runs 1 thread (same {CORES} cores). Machine: {platform.machine()}, {os.cpu_count()} cores, shared "
        "with other jobs, so timings are noisy: compare ratios within one run.",
        "",
        "Bytes per step: the payload this rank contributes to the collectives of one step (for 2 ranks, "
        "ring all-reduce and all-gather send about that much per rank). rows = all-gather of the touched rows; "
        "dense = one all-reduce of whole tables; ddp = DistributedDataParallel (Adam only: it takes no sparse gradients).",
        "",
        "exchange ms/step: the time in the gradient exchange during the epoch, waiting for the slower rank "
        "included; alone: the median of 20 exchanges of the last step's gradients after a barrier (no waiting).",
        "",
        "| optimizer | processes | grad sync | epoch s | x 1-process | exchange ms/step | alone ms | MiB/step | loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        if "failed" in row:
            lines.append(f"| {row['optimizer']} | {row['processes']} | {row['grad_sync']} | failed: {row['failed']} |||||")
            continue
        baseline = next(r for r in rows if r["processes"] == 1 and r["optimizer"] == row["optimizer"])
        sync, alone = (
            "-" if row[key] is None else f"{1000 * row[key]:.1f}" for key in ("sync_seconds_per_step", "exchange_alone_seconds")
        )
        lines.append(
            f"| {row['optimizer']} | {row['processes']} | {row['grad_sync']} | {row['epoch_seconds']:.1f} | "
            f"{row['epoch_seconds'] / baseline['epoch_seconds']:.2f} | {sync} | {alone} | {row['bytes_per_step'] / 2**20:.2f} | "
            f"{row['loss']:.4f} |"
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--negatives", type=int, default=800)
    parser.add_argument("--batch-size", type=int, default=2048)
    parser.add_argument("--out", type=Path, default=RESULTS / "distributed_speed.json")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--grad-sync", default="rows", help=argparse.SUPPRESS)
    parser.add_argument("--sparse", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(args)
        return 0
    if not (args.data / "train.txt").exists():
        print(f"skipped: {args.data} has no train.txt (set MARGINRANK_SHARED_DATA)")
        return 0
    sys.path.insert(0, str(REPO / "src"))
    from marginrank.data import read_lightgcn_split

    train, _ = read_lightgcn_split(args.data)
    rows = []
    for processes, grad_sync, sparse in CONFIGS:
        rows.append(launch(processes, grad_sync, sparse, args))
        print(json.dumps(rows[-1]), flush=True)
    text = report(rows, args, len(train), train.n_users, train.n_items)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    settings = {"dataset": "gowalla", "dim": args.dim, "negatives": args.negatives, "batch_size": args.batch_size,
                "cores": CORES, "torch": torch.__version__, "note": "shared machine: timings are noisy"}
    from marginrank.atomic import atomic_write_text

    atomic_write_text(args.out, json.dumps({"benchmark": "distributed_speed", **settings, "rows": rows}, indent=2) + "\n")
    atomic_write_text(args.out.with_suffix(".md"), text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
