"""Peer measurement: RecBole's SimpleX (its CCL model, set up as MF-CCL) on the Yelp2018 LightGCN split.

RecBole is no dependency of marginrank: this script builds a throwaway virtual environment
(default ``benchmarks/out/recbole-venv``, reused once complete), installs ``torch==2.13.0`` first
(the local CPU wheel) and then RecBole into it, converts our split into RecBole atomic files and
runs SimpleX in a subprocess of that environment with 2 torch threads. It reports seconds per
training epoch and full-sort Recall@20 / NDCG@20 on the test split after the same number of epochs,
so that ``benchmarks/train_speed.py`` can state a ratio measured on the same data and machine.

Split: RecBole's ``benchmark_filename`` loads ``yelp2018.{train,valid,test}.inter`` as given, so it
trains on exactly our train pairs and ranks exactly our test pairs (train items masked). The papers'
protocol evaluates on test, so the valid file is a copy of test; the runner never evaluates on it
(no early stopping), it only exists because RecBole requires three files.

MF-CCL in SimpleX: ``gamma = 1`` keeps only the user embedding (the history aggregation is weighted
by ``1 - gamma = 0``), so the score is cos(user, item) as in plain MF; ``reg_weight = 0``; CCL margin
0.9, negative weight 150, 800 uniform negatives per positive, Adam lr 1e-3, dim 64, dropout 0.1 on
the user vector. RecBole counts a batch in expanded rows, so 1024 positives are 1024 * 800 rows.

Timings on a shared 2-core machine are noisy: compare against a baseline measured in the same run.
Run alone: ``python benchmarks/peer_recbole.py --epochs 1 [--max-seconds 120]``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

import peer_env  # benchmarks/peer_env.py, beside this script (also inside the throwaway venv)
from peer_env import TORCH_PIN, python_of, tail

if TYPE_CHECKING:  # the runner half of this file executes in the throwaway venv, without marginrank
    from marginrank.data import Interactions

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data")) / "yelp2018"
VENV = REPO / "benchmarks" / "out" / "recbole-venv"
RESULT = REPO / "benchmarks" / "results" / "peer_recbole.json"

# ray 2.6.3 (RecBole caps ray at <=2.6.3; recbole.quick_start imports it) still imports pkg_resources,
# which setuptools 81 removed, and uses np.bool8, which numpy 2 removed.
PEER_PINS = ("recbole==1.2.1", "setuptools<81", "numpy<2")
REPORTED_PACKAGES = ("recbole", "torch", "numpy", "pandas", "scipy", "ray", "setuptools")
RECBOLE_IMPORT = "import recbole.quick_start, recbole.model.general_recommender.simplex"
SPLIT_FILES = ("train", "valid", "test")  # RecBole's benchmark_filename order
ATOMIC_HEADER = "user_id:token\titem_id:token"

POSITIVES_PER_BATCH = 1024
NEGATIVES = 800
DEVIATIONS = (
    "SimpleX with gamma=1 (user embedding only) is MF-CCL's cosine MF; its history aggregation is still "
    "computed (history_len=1 keeps that cheap) and contributes nothing",
    "RecBole's sampler rejects each user's training positives (marginrank's CCL-800 setting samples from all "
    "items), and draws 800 negatives per positive rather than a pool shared by the batch",
    "init: xavier normal (RecBole's default for SimpleX) instead of normal(std 1e-4)",
    "valid split = test split (RecBole needs three files); the runner evaluates only on test, no early stopping",
)


def simplex_config(data_path: Path, name: str, epochs: int, seed: int = 2019) -> dict:
    """RecBole config dict for SimpleX as MF-CCL (see the module docstring for each choice)."""
    return {
        "data_path": str(data_path),
        "dataset": name,
        "benchmark_filename": list(SPLIT_FILES),
        "load_col": {"inter": ["user_id", "item_id"]},
        "embedding_size": 64,
        "margin": 0.9,
        "negative_weight": 150,
        "gamma": 1.0,
        "aggregator": "mean",
        "history_len": 1,
        "reg_weight": 0.0,
        "dropout_prob": 0.1,
        "require_pow": False,
        "train_neg_sample_args": {"distribution": "uniform", "sample_num": NEGATIVES, "alpha": 1.0,
                                  "dynamic": False, "candidate_num": 0},
        "train_batch_size": POSITIVES_PER_BATCH * NEGATIVES,
        "learner": "adam",
        "learning_rate": 1e-3,
        "weight_decay": 0.0,
        "epochs": epochs,
        "eval_args": {"group_by": "user", "order": "RO", "split": {"RS": [0.8, 0.1, 0.1]}, "mode": "full"},
        "metrics": ["Recall", "NDCG"],
        "topk": [20],
        "valid_metric": "Recall@20",
        "seed": seed,
        "use_gpu": False,
        "device": "cpu",
        "show_progress": False,
        "checkpoint_dir": str(data_path / "saved"),
        "log_wandb": False,
    }


def write_recbole_split(
    train: Interactions, test: Interactions, folder: Path, name: str = "yelp2018"
) -> dict[str, Path]:
    """Write ``Interactions`` train/test as RecBole atomic files ``{name}.{train,valid,test}.inter``.

    Each file is ``user_id:token<TAB>item_id:token`` then one raw ``user<TAB>item`` pair a line; the
    valid file repeats test (see the module docstring). Returns the written paths by split name.
    """
    import numpy as np

    from marginrank.atomic import atomic_open

    dataset_dir = Path(folder) / name
    pairs = {"train": train, "valid": test, "test": test}
    paths = {}
    for split in SPLIT_FILES:
        interactions = pairs[split]
        rows = np.column_stack([interactions.user_ids[interactions.users], interactions.item_ids[interactions.items]])
        paths[split] = dataset_dir / f"{name}.{split}.inter"
        with atomic_open(paths[split]) as handle:
            handle.write(ATOMIC_HEADER + "\n")
            np.savetxt(handle, rows, fmt="%s", delimiter="\t")
    return paths


def extrapolate(seconds: float, batches_done: int, batches_total: int) -> dict:
    """Seconds per epoch from a possibly partial epoch: measured when complete, else seconds / fraction."""
    if batches_done <= 0:
        return {"fraction_of_epoch": 0.0, "epoch_s": None, "epoch_s_extrapolated": None}
    fraction = batches_done / batches_total
    if batches_done >= batches_total:
        return {"fraction_of_epoch": 1.0, "epoch_s": seconds, "epoch_s_extrapolated": None}
    return {"fraction_of_epoch": fraction, "epoch_s": None, "epoch_s_extrapolated": seconds / fraction}


# ---- the throwaway environment -------------------------------------------------------------------------


def ensure_venv(venv: Path = VENV) -> dict:
    """The throwaway environment with RecBole (see :func:`peer_env.ensure_venv`)."""
    return peer_env.ensure_venv(venv, [TORCH_PIN, *PEER_PINS], RECBOLE_IMPORT, REPORTED_PACKAGES)


# ---- inside the throwaway environment (imports RecBole; never marginrank) ------------------------------------


class _Capped:
    """A RecBole train dataloader that stops yielding batches once ``deadline`` (perf_counter) passes.

    ``loader_s`` is the time spent producing batches (RecBole's collate: negative sampling included).
    """

    def __init__(self, loader, deadline: float | None) -> None:
        self.loader, self.deadline, self.batches, self.stopped, self.loader_s = loader, deadline, 0, False, 0.0

    def __iter__(self):
        batches = iter(self.loader)
        while True:
            tic = time.perf_counter()
            batch = next(batches, None)
            self.loader_s += time.perf_counter() - tic
            if batch is None:
                return
            yield batch
            self.batches += 1
            if self.deadline is not None and time.perf_counter() >= self.deadline:
                self.stopped = True
                return

    def __len__(self) -> int:
        return len(self.loader)

    def __getattr__(self, name):
        return getattr(self.loader, name)


def run_inside(spec: dict) -> dict:
    """Train SimpleX with RecBole's own Trainer epoch by epoch, then evaluate full-sort on test."""
    import torch

    torch.set_num_threads(spec["threads"])
    sys.argv = sys.argv[:1]  # RecBole's Config reads --key=value from the command line
    from recbole.config import Config
    from recbole.data import create_dataset, data_preparation
    from recbole.model.general_recommender import SimpleX
    from recbole.trainer import Trainer
    from recbole.utils import init_seed

    start = time.perf_counter()
    config = Config(model="SimpleX", dataset=spec["config"]["dataset"], config_dict=spec["config"])
    init_seed(config["seed"], config["reproducibility"])
    dataset = create_dataset(config)
    config["eval_batch_size"] = 256 * dataset.item_num  # full-sort batches hold eval_batch_size // n_items users
    train_data, _valid_data, test_data = data_preparation(config, dataset)
    model = SimpleX(config, train_data.dataset).to(config["device"])
    trainer = Trainer(config, model)
    setup_s = time.perf_counter() - start
    deadline = None if spec["max_seconds"] is None else time.perf_counter() + spec["max_seconds"]
    epochs = []
    for epoch in range(spec["epochs"]):
        capped = _Capped(train_data, deadline)
        tic = time.perf_counter()
        loss = trainer._train_epoch(capped, epoch)
        seconds = time.perf_counter() - tic
        epochs.append({"epoch": epoch, "seconds": seconds, "loader_s": capped.loader_s, "batches": capped.batches,
                       "batches_total": len(train_data), "loss_sum": loss})
        if capped.stopped:
            break
    tic = time.perf_counter()
    metrics = trainer.evaluate(test_data, load_best_model=False)
    return {"setup_s": setup_s, "eval_s": time.perf_counter() - tic, "epochs": epochs,
            "n_users": dataset.user_num - 1, "n_items": dataset.item_num - 1, "train_pairs": len(train_data.dataset),
            "recall@20": float(metrics["recall@20"]), "ndcg@20": float(metrics["ndcg@20"])}


# ---- the measurement ---------------------------------------------------------------------------------


def summarize(run: dict) -> dict:
    """Seconds per epoch (measured, or extrapolated from a capped epoch) and the metrics."""
    full = [e for e in run["epochs"] if e["batches"] == e["batches_total"]]
    last = run["epochs"][-1]
    if last["batches"] < last["batches_total"]:
        speed = extrapolate(last["seconds"], last["batches"], last["batches_total"])
        epochs_trained = len(full) + speed["fraction_of_epoch"]
    else:
        speed = extrapolate(sum(e["seconds"] for e in full) / len(full), 1, 1)
        epochs_trained = len(full)
    loader_share = sum(e["loader_s"] for e in run["epochs"]) / sum(e["seconds"] for e in run["epochs"])
    return {**speed, "epochs_trained": epochs_trained, "loader_share": loader_share,
            "recall@20": run["recall@20"], "ndcg@20": run["ndcg@20"], "setup_s": run["setup_s"],
            "eval_s": run["eval_s"], "per_epoch": run["epochs"],
            "data": {k: run[k] for k in ("n_users", "n_items", "train_pairs")}}


def measure(epochs: int = 1, max_seconds: float | None = None, threads: int = 2, venv: Path = VENV,
            data: Path = DATA) -> dict:
    """Install (or reuse) the peer, run SimpleX as MF-CCL for ``epochs`` epochs, return the result dict.

    Never raises for a peer that cannot be installed or run: ``status`` is then ``install_failed`` or
    ``run_failed`` with the failing step and error text.
    """
    result = {"peer": "RecBole SimpleX (CCL) as MF-CCL", "dataset": "yelp2018", "threads": threads,
              "epochs_requested": epochs, "max_seconds": max_seconds, "deviations_from_mf_ccl": list(DEVIATIONS),
              "note": "noisy shared 2-core machine: read ratios to a baseline measured in the same run"}
    if not (data / "train.txt").exists():
        return {**result, "status": "skipped", "error": f"{data} has no train.txt (set MARGINRANK_SHARED_DATA)"}
    install = ensure_venv(venv)
    result["install"] = install
    if not install["ok"]:
        return {**result, "status": "install_failed", "error": f"{install['step']} failed:\n{install['error']}"}
    from marginrank.data import read_lightgcn_split

    with tempfile.TemporaryDirectory(prefix="recbole-peer-") as folder:
        folder = Path(folder)
        write_recbole_split(*read_lightgcn_split(data), folder)
        spec = {"threads": threads, "epochs": epochs, "max_seconds": max_seconds,
                "config": simplex_config(folder, "yelp2018", epochs)}
        (folder / "spec.json").write_text(json.dumps(spec))
        env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
        env.update(OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        print(f"[peer] running SimpleX for {epochs} epoch(s)"
              + (f", training capped at {max_seconds:.0f} s" if max_seconds else "") + " ...", flush=True)
        runner = [str(python_of(venv)), str(Path(__file__).resolve()), "--inside", str(folder / "spec.json")]
        done = subprocess.run(runner, cwd=folder, env=env, capture_output=True, text=True)
        if done.returncode != 0 or not (folder / "run.json").exists():
            return {**result, "status": "run_failed", "error": tail(done.stderr or done.stdout, 25)}
        run = json.loads((folder / "run.json").read_text())
    return {**result, "status": "ok", **summarize(run)}


def write_result(result: dict, path: Path = RESULT) -> None:
    from marginrank.atomic import atomic_write_text

    atomic_write_text(path, json.dumps(result, indent=1) + "\n")


def print_table(result: dict) -> None:
    print(f"Peer: {result['peer']} on Yelp2018, {result['threads']} threads; noisy shared machine")
    if result["status"] != "ok":
        print(f"status: {result['status']}\n{result.get('error', '')}")
        return
    versions = ", ".join(f"{k} {v}" for k, v in result["install"]["versions"].items())
    built = result["install"].get("built_in_s")
    install = (f"reused (built in {built:.0f} s)" if built else "reused") if result["install"]["reused"] \
        else f"{result['install']['install_s']:.0f} s"
    if result["epoch_s"] is not None:
        speed = f"{result['epoch_s']:.1f}"
    else:
        speed = f"{result['epoch_s_extrapolated']:.0f} (EXTRAPOLATED from {result['fraction_of_epoch']:.1%} of an epoch)"
    print("| what | value |\n|---|---|")
    print(f"| versions | {versions} |\n| install | {install} |\n| setup (load, sampler) s | {result['setup_s']:.1f} |")
    print(f"| training s/epoch | {speed} |\n| epochs trained | {result['epochs_trained']:.3g} |")
    print(f"| share of training in RecBole's loader (negative sampling) | {result['loader_share']:.0%} |")
    print(f"| Recall@20 | {result['recall@20']:.4f} |\n| NDCG@20 | {result['ndcg@20']:.4f} |")
    print(f"| full-sort eval s | {result['eval_s']:.1f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--max-seconds", type=float, default=None, help="wall-clock cap on training (extrapolates)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--venv", type=Path, default=VENV)
    parser.add_argument("--out", type=Path, default=RESULT)
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)  # the runner, in the throwaway venv
    args = parser.parse_args(argv)
    if args.inside:
        run = run_inside(json.loads(args.inside.read_text()))
        (args.inside.parent / "run.json").write_text(json.dumps(run))
        return 0
    result = measure(args.epochs, args.max_seconds, args.threads, args.venv)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(result, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
