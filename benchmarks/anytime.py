"""Recall@20 against wall time: marginrank (its defaults, and the BSL-800 row on the same fast path at
widths 96, 128, 256 and 384) against implicit's ALS tuned over factors, regularization and alpha, on
Yelp2018 and Gowalla.

Every figure is measured in one run of this script, one job after the other on the same machine:

- marginrank: ``Recommender(protocol="paper", time_limit=...)`` with glibc's allocator tuned as the
  ``marginrank`` command tunes it (:func:`marginrank.allocator.tune_allocator`), nothing else set for
  ``defaults`` (64 wide) and ``loss="bsl", negatives=800, dim=...`` for the rows; a point per
  evaluation (the closed-form start, epoch 0, then every epoch) at the seconds elapsed since ``fit``
  began, model building, training and every evaluation included.
- implicit ALS (not a dependency: installed into ``benchmarks/out/implicit-venv``, reused once
  complete, and run there in a subprocess with the same 2 threads): every setting of ``ALS_GRID``,
  a point after each iteration of ``SNAPSHOTS`` at its cumulative training seconds plus the seconds
  of its evaluation. The runner hands each snapshot's factors over and waits (not timed) while
  marginrank's evaluator ranks them here, so both methods are ranked by the same code.

A run's figure at a budget is the best Recall@20 of its points within the budget (for marginrank
the run's best epoch, chosen on the test split as the papers' protocol does). Each method's figure
is the best over its runs: over every setting of ALS's grid, and over marginrank's runs, both tuned
on the test split over the same widths. Both use the LightGCN splits' test pairs.

Writes benchmarks/results/anytime.{json,md,png}. ``--seconds`` caps each marginrank run; ``--only``
measures some datasets again, keeping the others' figures (each dataset's figures come from one run).
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from peer_env import ensure_venv, python_of, tail  # benchmarks/peer_env.py, beside this script

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data"))
VENV = REPO / "benchmarks" / "out" / "implicit-venv"
RESULTS = REPO / "benchmarks" / "results"
PINS = ("implicit==0.7.3", "numpy", "scipy", "threadpoolctl")
REPORTED = ("implicit", "numpy", "scipy")
ALS_GRID = {"factors": (64, 96, 128, 256, 384), "regularization": (0.01, 0.1), "alpha": (1.0, 10.0, 40.0)}
SNAPSHOTS = (1, 2, 4, 8, 15)
DATASETS = ("yelp2018", "gowalla")
BSL_800 = {"loss": "bsl", "negatives": 800, "epochs": 100}
RUNS = {"marginrank defaults": {}, **{f"BSL-800, dim {dim}": {**BSL_800, "dim": dim} for dim in (96, 128, 256, 384)}}
ALS, BEST = "implicit ALS (tuned)", "marginrank (best run)"
BUDGETS = (5, 10, 20, 30, 60, 90, 120, 180, 300, 600)
TARGETS = {"yelp2018": ((60, 0.0698), (300, 0.0725)), "gowalla": ((90, 0.1837),)}
THREADS = 2
K = 20


# ---- inside the throwaway environment (imports implicit; never marginrank) ------------------------------


def run_als_grid(folder: Path) -> None:
    """Train every ALS setting of the grid on ``folder/train.npz``. After each iteration of ``SNAPSHOTS``
    write the factors to ``folder/snapshot.npz``, print the point's setting, iteration and training
    seconds as one JSON line, and wait for a line on stdin (the snapshot evaluated) before going on."""
    from implicit.als import AlternatingLeastSquares
    from threadpoolctl import threadpool_limits

    train = sp.load_npz(folder / "train.npz").tocsr()
    with threadpool_limits(1, "blas"):  # implicit's advice: its own threads, single-threaded BLAS
        for factors, regularization, alpha in itertools.product(*ALS_GRID.values()):
            setting = {"factors": factors, "regularization": regularization, "alpha": alpha}
            model = AlternatingLeastSquares(**setting, iterations=max(SNAPSHOTS), random_state=0, num_threads=THREADS,
                                            calculate_training_loss=False)
            outside, started = 0.0, time.perf_counter()

            def snapshot(iteration, _elapsed, _loss, model=model, setting=setting, started=started):
                nonlocal outside
                tic = time.perf_counter()
                if iteration + 1 in SNAPSHOTS:
                    np.savez(folder / "snapshot.npz", users=model.user_factors, items=model.item_factors)
                    print(json.dumps({**setting, "iteration": iteration + 1, "train_s": tic - started - outside}), flush=True)
                    sys.stdin.readline()
                outside += time.perf_counter() - tic

            model.fit(train, show_progress=False, callback=snapshot)


# ---- here (marginrank) -------------------------------------------------------------------------------------


def als_curves(dataset, venv: Path) -> dict:
    """ALS's grid on ``dataset``, trained in the throwaway environment; each snapshot ranked here."""
    install = ensure_venv(venv, PINS, "import implicit.als, threadpoolctl", REPORTED)
    if not install["ok"]:
        return {"status": "install_failed", "install": install}
    with tempfile.TemporaryDirectory() as folder:
        folder = Path(folder)
        sp.save_npz(folder / "train.npz", dataset.train.matrix)
        environment = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
        with open(folder / "stderr.txt", "w+") as errors:
            runner = subprocess.Popen([str(python_of(venv)), str(Path(__file__).resolve()), "--inside", str(folder)],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True, env=environment)
            curves = evaluate_snapshots(runner, folder, dataset)
            errors.seek(0)
            if runner.returncode != 0:
                return {"status": "run_failed", "install": install, "error": tail(errors.read(), 25)}
    return {"status": "ok", "install": install, "curves": curves}


def evaluate_snapshots(runner: subprocess.Popen, folder: Path, dataset) -> list[dict]:
    """Rank every snapshot the runner announces with marginrank's evaluator while the runner waits, and
    answer it; a point's ``seconds`` is its training seconds plus that evaluation's. One curve per setting."""
    import torch

    from marginrank.metrics import evaluate_embeddings

    curves: dict[tuple, dict] = {}
    for line in runner.stdout:
        announced = json.loads(line)
        setting = {name: announced[name] for name in ALS_GRID}
        with np.load(folder / "snapshot.npz") as snapshot:
            users, items = torch.from_numpy(snapshot["users"]), torch.from_numpy(snapshot["items"])
        tic = time.perf_counter()
        recall = evaluate_embeddings(users, items, dataset.train.matrix, dataset.test.matrix, ks=(K,))[f"recall@{K}"]
        point = {"iteration": announced["iteration"], "train_s": announced["train_s"], "eval_s": time.perf_counter() - tic}
        point.update(seconds=point["train_s"] + point["eval_s"], **{f"recall@{K}": recall})
        curves.setdefault(tuple(setting.values()), {**setting, "points": []})["points"].append(point)
        print(json.dumps({**setting, **point}), flush=True)
        runner.stdin.write("\n")
        runner.stdin.flush()
    runner.wait()
    return list(curves.values())


def marginrank_curve(dataset, settings: dict, seconds: float) -> dict:
    from marginrank import Recommender

    rec = Recommender(protocol="paper", time_limit=seconds, progress=False, **settings).fit(dataset)
    points = [{"epoch": r["epoch"], "seconds": r["elapsed"], "recall@20": r["metrics"]["recall@20"]}
              for r in rec.result_.history if "metrics" in r]
    return {"settings": settings, "scaled_settings": rec.metrics_["scaled_settings"], "points": points,
            "stopped": rec.metrics_["stopped"]}


def best_within(points: list[dict], budget: float) -> float | None:
    values = [point["recall@20"] for point in points if point["seconds"] <= budget]
    return max(values) if values else None


def als_points(measured: dict) -> list[dict]:
    """Every point of every ALS setting measured on one dataset."""
    return [point for curve in measured["als"].get("curves", []) for point in curve["points"]]


def budget_table(result: dict) -> list[dict]:
    """Per dataset and budget: ALS's best Recall@20 within it, each marginrank run's, and the best of them."""
    rows = []
    for name, measured in result["datasets"].items():
        als = als_points(measured)
        runs = measured["marginrank"]
        for budget in BUDGETS:
            row = {"dataset": name, "budget_s": budget, ALS: best_within(als, budget),
                   BEST: best_within([p for curve in runs.values() for p in curve["points"]], budget)}
            row.update({run: best_within(curve["points"], budget) for run, curve in runs.items()})
            rows.append(row)
    return rows


def markdown(result: dict) -> str:
    """The budget table (marginrank's best run marked against ALS's best setting) and the targets."""
    runs = list(RUNS)
    lines = [f"| data | budget | {ALS} | {BEST} | {' | '.join(runs)} |", "|---|---|---|---|" + "---|" * len(runs)]

    def cell(value: float | None) -> str:
        return "—" if value is None else f"{value:.4f}"

    for row in result["table"]:
        als, best = row[ALS], row[BEST]
        mark = "" if best is None or als is None else (" (≥ ALS)" if best >= als else " (< ALS)")
        cells = [cell(row.get(run)) for run in runs]
        lines.append(f"| {row['dataset']} | {row['budget_s']} s | {cell(als)} | {cell(best)}{mark} | {' | '.join(cells)} |")
    lines.append("")
    for name, targets in TARGETS.items():
        if name not in result["datasets"]:
            continue
        for budget, target in targets:
            best = next(row[BEST] for row in result["table"] if row["dataset"] == name and row["budget_s"] == budget)
            verdict = "met" if best is not None and best >= target else "missed"
            lines.append(f"- {name}: Recall@20 {target} within {budget} s: best {best if best is None else round(best, 4)} ({verdict})")
    return "\n".join(lines) + "\n"


def plot(result: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(result["datasets"])
    figure, axes = plt.subplots(1, len(names), figsize=(6.5 * len(names), 4.5), squeeze=False)
    for axis, name in zip(axes[0], names):
        measured = result["datasets"][name]
        als = als_points(measured)
        grid = sorted({point["seconds"] for point in als})
        if grid:
            axis.step(grid, [best_within(als, t) for t in grid], where="post", color="gray", label="implicit ALS, best of the grid")
        for run, curve in measured["marginrank"].items():
            times = [p["seconds"] for p in curve["points"]]
            axis.plot(times, [best_within(curve["points"], t) for t in times], marker="o", markersize=3, label=run)
        for budget, target in TARGETS.get(name, ()):
            axis.plot([budget], [target], marker="*", markersize=12, color="black", linestyle="none")
        axis.set(xscale="log", xlabel="wall seconds (training and evaluation)", ylabel="test Recall@20 (best so far)",
                 title=f"{name}: anytime quality (stars: targets)")
        axis.grid(alpha=0.3)
        axis.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=110)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--only", nargs="+", choices=DATASETS, default=list(DATASETS))
    parser.add_argument("--seconds", type=float, default=300.0, help="time limit of each marginrank run")
    parser.add_argument("--venv", type=Path, default=VENV)
    parser.add_argument("--out", type=Path, default=RESULTS / "anytime")
    args = parser.parse_args()
    if args.inside is not None:
        run_als_grid(args.inside)
        return 0
    import torch

    from marginrank import datasets
    from marginrank.allocator import tune_allocator
    from marginrank.atomic import atomic_write_text

    torch.set_num_threads(THREADS)
    tune_allocator()  # as the marginrank command does before any sub-command
    earlier = args.out.with_suffix(".json")
    kept = json.loads(earlier.read_text())["datasets"] if earlier.exists() else {}
    result = {"threads": THREADS, "als_grid": ALS_GRID, "snapshots": SNAPSHOTS, "seconds_per_run": args.seconds,
              "datasets": {name: figures for name, figures in kept.items() if name not in args.only}}
    for name in args.only:
        if not (SHARED / name / "train.txt").exists():
            print(f"skipped {name}: no LightGCN split under {SHARED} (set MARGINRANK_SHARED_DATA)")
            continue
        dataset = datasets.load(name, root=SHARED, download=False)
        measured = {"marginrank": {}}
        for run, settings in RUNS.items():
            measured["marginrank"][run] = marginrank_curve(dataset, settings, args.seconds)
            print(name, run, json.dumps(measured["marginrank"][run]["points"]), flush=True)
        measured["als"] = als_curves(dataset, args.venv)
        print(name, "ALS", measured["als"]["status"], flush=True)
        result["datasets"][name] = measured
    if not result["datasets"]:
        return 0
    result["table"] = budget_table(result)
    table = markdown(result)
    print(table)
    atomic_write_text(args.out.with_suffix(".json"), json.dumps(result, indent=1))
    atomic_write_text(args.out.with_suffix(".md"), table)
    plot(result, args.out.with_suffix(".png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
