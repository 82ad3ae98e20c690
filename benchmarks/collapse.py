"""The max-margin collapse, reproduced and guarded (docs/collapse.md).

Part 1, the report of /work/shared/context/000: an MLP scorer s(x) trained by plain SGD on
``MaxMarginHinge`` (``relu(1 + max_j s(x_nj) - s(x_p))``) over planted data, 10 seeds per setup:

- items are feature vectors x ~ N(0, I_16); the planted preference is t(x) = v.x/4 + sum tanh(W x)/4;
- an example is 11 candidate items; the positive is drawn with probability softmax(t / 0.5) (a
  noisy preference, like real clicks), the other 10 are its negatives;
- a run "collapses" when the collapse monitor fires on held-out examples at the end: the scores
  the loss sees differ by far less than the margin (or other monitor criteria). Held-out pairwise
  accuracy (does s order two fresh items as t does? chance = 0.5) is reported beside it.

Part 2: cosine MF with CCL and MMCL on ``marginrank.datasets.load("synthetic")``, trained by the
library's loop (``Trainer`` with an ``InteractionTask`` and a shared pool of negatives), the
collapse check running as its callback every epoch.

Run: ``PYTHONPATH=src python benchmarks/collapse.py`` (about 2 minutes on 2 cores; timings are noisy
on a shared machine). Writes benchmarks/results/collapse.{json,md}.
"""

from __future__ import annotations

import json
import multiprocessing
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

from marginrank.atomic import atomic_write_text
from marginrank.datasets import load
from marginrank.guards import CollapseMonitor, standardize_scores
from marginrank.losses import CCL, MMCL, MaxMarginHinge, RankingLoss
from marginrank.metrics import evaluate_embeddings, evaluate_popularity
from marginrank.models import MF, MLPScorer
from marginrank.sampling import UniformSampler
from marginrank.training import CollapseCheck, CollapseWarning, InteractionTask, Trainer

RESULTS = Path(__file__).resolve().parent / "results"
FEATURES, NEGATIVES, TEMPERATURE, MARGIN = 16, 10, 0.5, 1.0
SEEDS = range(10)


@dataclass(frozen=True)
class Setup:
    name: str
    n_train: int = 20_000
    epochs: int = 5
    normalize_output: bool = False
    standardize: bool = False
    lr: float = 0.01
    batch_size: int = 32


SETUPS = (
    Setup("unguarded MLP (the report in 000)"),
    Setup("unguarded MLP, 10x less data (same SGD steps)", n_train=2_000, epochs=50),
    Setup("bounded: cosine head, output_scale 10", normalize_output=True),
    Setup("guarded: standardize_scores", standardize=True),
)


class PlantedPreference:
    """t(x) = v.x / 4 + sum_k tanh((W x)_k) / 4, fixed by ``seed``."""

    def __init__(self, seed: int) -> None:
        generator = torch.Generator().manual_seed(10_000 + seed)
        self.generator = generator
        self.v = torch.randn(FEATURES, generator=generator)
        self.w = torch.randn(FEATURES, FEATURES, generator=generator) / FEATURES**0.5

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x @ self.v + torch.tanh(x @ self.w).sum(-1)) / FEATURES**0.5

    def examples(self, count: int) -> tuple[torch.Tensor, torch.Tensor]:
        """``(positives [count, F], negatives [count, N, F])``; the positive is drawn by softmax(t / T)."""
        candidates = torch.randn(count, NEGATIVES + 1, FEATURES, generator=self.generator)
        chosen = torch.multinomial(torch.softmax(self(candidates) / TEMPERATURE, -1), 1, generator=self.generator)
        rows = torch.arange(count)
        is_negative = torch.ones(count, NEGATIVES + 1, dtype=torch.bool)
        is_negative[rows, chosen[:, 0]] = False
        return candidates[rows, chosen[:, 0]], candidates[is_negative].view(count, NEGATIVES, FEATURES)


def scores_for_loss(scorer: MLPScorer, setup: Setup, pos: torch.Tensor, neg: torch.Tensor):
    pos_scores, neg_scores = scorer(pos), scorer(neg)
    return standardize_scores(pos_scores, neg_scores) if setup.standardize else (pos_scores, neg_scores)


def run_mlp(job: tuple[Setup, int]) -> dict:
    setup, seed = job
    torch.set_num_threads(1)
    truth = PlantedPreference(seed)
    train_pos, train_neg = truth.examples(setup.n_train)
    held_pos, held_neg = truth.examples(1_000)
    pair_a, pair_b = torch.randn(4_000, FEATURES, generator=truth.generator), torch.randn(4_000, FEATURES, generator=truth.generator)
    torch.manual_seed(seed)
    scorer = MLPScorer(FEATURES, (64, 64), normalize_output=setup.normalize_output)
    optimizer = torch.optim.SGD(scorer.parameters(), lr=setup.lr)
    loss_fn, monitor = MaxMarginHinge(MARGIN), CollapseMonitor()
    fired_at = None
    for epoch in range(1, setup.epochs + 1):
        total = 0.0
        for batch in torch.randperm(setup.n_train).split(setup.batch_size):
            loss = loss_fn(*scores_for_loss(scorer, setup, train_pos[batch], train_neg[batch]))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += loss.item() * len(batch)
        with torch.no_grad():
            report = monitor.check_scores(*scores_for_loss(scorer, setup, held_pos, held_neg), epoch, margin=MARGIN)
        if report.collapsed and fired_at is None:
            fired_at = epoch
    with torch.no_grad():
        s_a, s_b = scorer(pair_a), scorer(pair_b)
        accuracy = ((s_a > s_b) == (truth(pair_a) > truth(pair_b))).double().mean().item()
    return {
        "setup": setup.name, "seed": seed, "collapsed": report.collapsed, "first_fired_epoch": fired_at,
        "final_train_loss": total / setup.n_train, "heldout_spread": report.stats["spread"],
        "heldout_hardest_gap": report.stats["hardest_gap"], "heldout_pair_accuracy": accuracy,
        "message": report.message,
    }


def run_mf(name: str, loss_fn: RankingLoss, epochs: int = 8, seed: int = 0) -> dict:
    """Cosine MF (dim 64, N(0, 1e-4) init), Adam 1e-3, batch 256, 256 uniform negatives shared by the
    batch, trained by the library's loop with the collapse check as its callback."""
    torch.set_num_threads(1)
    data = load("synthetic")
    train, test = data.train.matrix, data.test.matrix
    torch.manual_seed(seed)
    model = MF(data.n_users, data.n_items, 64, similarity="cosine")
    monitor = CollapseMonitor(n_users=256, seed=seed)
    before = monitor.check_model(model, train, 0)
    task = InteractionTask(data.train, UniformSampler(data.n_items, 256, shared=True, seed=seed), batch_size=256)
    trainer = Trainer(model, task, loss_fn, torch.optim.Adam(model.parameters(), lr=1e-3),
                      callbacks=[CollapseCheck(monitor, train)], seed=seed, progress=False)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", CollapseWarning)  # the runs' verdicts are read from the history
        history = trainer.fit(epochs=epochs).history
    seconds = time.perf_counter() - start
    recall = evaluate_embeddings(model.user_factors(), model.item_factors(), train, test, ks=(20,))["recall@20"]
    last = history[-1]["collapse"]
    return {
        "run": name, "epochs": epochs, "train_seconds": seconds, "recall@20": recall,
        "popularity_recall@20": evaluate_popularity(train, test, ks=(20,))["recall@20"],
        "monitor_fired_epochs": [0] * before.collapsed + [r["epoch"] for r in history if r["collapse"]["collapsed"]],
        "final_relative_spread": last["relative_spread"], "final_standardized_gap": last["standardized_gap"],
        "final_effective_rank": last["effective_rank"],
        "final_message": monitor.check_model(model, train, epochs).message,
    }


def mf_job(which: str) -> dict:
    if which == "ccl":
        return run_mf("cosine MF + CCL (m 0.5, w 50)", CCL(margin=0.5, neg_weight=50.0))
    return run_mf(
        "cosine MF + MMCL (m 0.3/0.4/0.5, w 0.1/0.15/0.75, w_n 50)",
        MMCL(margins=(0.3, 0.4, 0.5), weights=(0.1, 0.15, 0.75), neg_weight=50.0),
    )


def summarize(mlp_runs: list[dict]) -> list[dict]:
    rows = []
    for setup in SETUPS:
        runs = [r for r in mlp_runs if r["setup"] == setup.name]
        accuracies = sorted(r["heldout_pair_accuracy"] for r in runs)
        rows.append({
            "setup": setup.name, "n_train": setup.n_train, "epochs": setup.epochs,
            "collapsed": sum(r["collapsed"] for r in runs), "runs": len(runs),
            "near_chance (acc < 0.6)": sum(a < 0.6 for a in accuracies),
            "median_spread": sorted(r["heldout_spread"] for r in runs)[len(runs) // 2],
            "accuracy_min": accuracies[0], "accuracy_median": accuracies[len(runs) // 2],
            "median_final_loss": sorted(r["final_train_loss"] for r in runs)[len(runs) // 2],
        })
    return rows


def markdown(summary: list[dict], mf_runs: list[dict], seconds: float) -> str:
    lines = [
        "# Max-margin collapse: unguarded vs guarded",
        "",
        f"MLP scorer (16 -> 64 -> 64 -> 1, ReLU), plain SGD lr 0.01, batch 32, MaxMarginHinge(margin 1), "
        f"{NEGATIVES} negatives, noisy planted positives (softmax temperature {TEMPERATURE}); 10 seeds each. "
        "'collapsed' = the CollapseMonitor fires on 1000 held-out examples after the last epoch; spread = "
        "mean std of the scores the loss sees per example (the margin is 1); accuracy = held-out pairwise "
        "order vs the planted preference (chance 0.5).",
        "",
        "| setup | train examples | epochs | collapsed | acc < 0.6 | median spread | accuracy min / median | median final loss |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        lines.append(
            f"| {row['setup']} | {row['n_train']} | {row['epochs']} | {row['collapsed']} / {row['runs']} | "
            f"{row['near_chance (acc < 0.6)']} | {row['median_spread']:.3g} | "
            f"{row['accuracy_min']:.3f} / {row['accuracy_median']:.3f} | {row['median_final_loss']:.3f} |"
        )
    lines += [
        "",
        "Cosine MF on `load(\"synthetic\")` (2000 users, 1000 items), dim 64, N(0, 1e-4) init, Adam 1e-3, "
        "batch 256, 256 shared uniform negatives; monitor on 256 users after every epoch (and at init).",
        "",
        "| run | epochs | Recall@20 | popularity Recall@20 | monitor fired at | final relative spread | final effective rank | train s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for run in mf_runs:
        fired = ", ".join(map(str, run["monitor_fired_epochs"])) or "never"
        lines.append(
            f"| {run['run']} | {run['epochs']} | {run['recall@20']:.4f} | {run['popularity_recall@20']:.4f} | "
            f"{fired} | {run['final_relative_spread']:.2f} | {run['final_effective_rank']:.1f} | {run['train_seconds']:.1f} |"
        )
    lines += ["", f"Total wall time {seconds:.0f} s on a shared 2-core machine (noisy)."]
    return "\n".join(lines) + "\n"


def main() -> None:
    start = time.perf_counter()
    jobs = [(setup, seed) for setup in SETUPS for seed in SEEDS]
    with multiprocessing.get_context("spawn").Pool(2) as pool:
        mf_async = pool.map_async(mf_job, ["ccl", "mmcl"])
        mlp_runs = pool.map(run_mlp, jobs)
        mf_runs = mf_async.get()
    seconds = time.perf_counter() - start
    summary = summarize(mlp_runs)
    text = markdown(summary, mf_runs, seconds)
    print(text)
    example = next((r["message"] for r in mlp_runs if r["collapsed"]), None)
    if example:
        print("Example monitor message:", example)
    payload = {"summary": summary, "mlp_runs": mlp_runs, "mf_runs": mf_runs, "wall_seconds": seconds}
    atomic_write_text(RESULTS / "collapse.json", json.dumps(payload, indent=2) + "\n")
    atomic_write_text(RESULTS / "collapse.md", text + (f"\nExample monitor message: {example}\n" if example else ""))


if __name__ == "__main__":
    main()
