"""The max-margin collapse, reproduced and guarded (docs/collapse.md).

Part 1, the report of /work/shared/context/000, through the public API: an MLP scorer s(x) trained
by ``Ranker`` (plain SGD, as in the report) on ``MaxMarginHinge`` (``relu(1 + max_j s(x_nj) - s(x_p))``),
10 seeds per setup, each guard changing one thing:

- planted data: items are feature vectors x ~ N(0, I_16); the planted preference is
  t(x) = v.x/4 + sum tanh(W x)/4; an example is a group of 11 candidate items whose positive is
  drawn with probability softmax(t / 0.5) (a noisy preference, like real clicks);
- the lambdarank sample (../shared/data/lambdarank-sample, raw features in [0, 1], graded labels):
  half and all of rank.train's queries, reported on rank.test;
- the collapse check runs on held-out groups after every epoch (``Ranker.fit(eval_set=...)``); a run
  "collapses" when it fires at the last epoch: the scores the loss sees differ by far less than the
  margin (or other monitor criteria). Held-out NDCG and the monitor's pairwise accuracy (positives
  above negatives) are those of the last epoch, not of a chosen one.

Part 2: cosine MF with CCL and MMCL on ``marginrank.datasets.load("synthetic")``, trained by the
library's loop (``Trainer`` with an ``InteractionTask`` and a shared pool of negatives), the
collapse check running as its callback every epoch.

Run: ``PYTHONPATH=src python benchmarks/collapse.py`` (about 8 minutes on 2 cores; timings are noisy
on a shared machine). Writes benchmarks/results/collapse.{json,md}.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from marginrank import Ranker
from marginrank.atomic import atomic_write_text
from marginrank.data.groups import RankingGroups
from marginrank.data.ranking_readers import read_svmlight
from marginrank.datasets import load
from marginrank.guards import CollapseMonitor
from marginrank.losses import CCL, MMCL, RankingLoss
from marginrank.metrics import evaluate_embeddings, evaluate_popularity
from marginrank.models import MF
from marginrank.sampling import UniformSampler
from marginrank.training import CollapseCheck, CollapseWarning, InteractionTask, Trainer

RESULTS = Path(__file__).resolve().parent / "results"
SAMPLE = Path(os.environ.get("MARGINRANK_SHARED_DATA", Path(__file__).resolve().parents[2] / "shared" / "data")) / "lambdarank-sample"
FEATURES, NEGATIVES, TEMPERATURE = 16, 10, 0.5
SEEDS = range(10)


@dataclass(frozen=True)
class Setup:
    """A run of ``Ranker``: plain SGD (the report's optimizer), one scorer, every epoch trained.

    ``data``: ``"planted"`` (``size`` training examples) or ``"sample"`` (a ``size`` share of the
    lambdarank sample's training queries)."""

    name: str
    data: str = "planted"
    size: float = 20_000
    epochs: int = 5
    loss: str = "max_margin"
    guard: dict = field(default_factory=dict)

    def ranker(self, seed: int) -> Ranker:
        return Ranker(self.loss, hidden=(64, 64), weights="none", standardize_features=False, optimizer="sgd", lr=0.01,
                      weight_decay=0.0, groups_per_batch=32, epochs=self.epochs, patience=None, n_models=1, seed=seed,
                      **self.guard)


GUARDS = (
    ("cosine head, output_scale 10", {"guard": {"normalize_output": True}}),
    ("standardized scores", {"guard": {"standardize_scores": True}}),
    ("softmax loss", {"loss": "softmax"}),
    ("norm constraint (unit weight rows)", {"guard": {"max_norm": 1.0}}),
)
SAMPLE_EPOCHS = 40
SETUPS = (
    Setup("unguarded MLP (the report in 000)"),
    Setup("unguarded MLP, 10x less data (same SGD steps)", size=2_000, epochs=50),
    *(Setup(f"guard: {name}", **change) for name, change in GUARDS),
    Setup("sample: unguarded MLP, half the queries", data="sample", size=0.5, epochs=2 * SAMPLE_EPOCHS),
    Setup("sample: unguarded MLP", data="sample", size=1.0, epochs=SAMPLE_EPOCHS),
    *(Setup(f"sample: guard: {name}", data="sample", size=1.0, epochs=SAMPLE_EPOCHS, **change) for name, change in GUARDS),
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


def as_groups(positives: torch.Tensor, negatives: torch.Tensor) -> RankingGroups:
    """Each example as a group of ``N + 1`` rows: its positive (label 1) first, then its negatives (label 0)."""
    rows = torch.cat([positives.unsqueeze(1), negatives], dim=1)
    labels = torch.zeros(rows.shape[:2])
    labels[:, 0] = 1.0
    return RankingGroups.from_arrays(rows.reshape(-1, FEATURES), labels.reshape(-1), [NEGATIVES + 1] * len(rows))


def sample_split(share: float, seed: int) -> tuple[RankingGroups, RankingGroups]:
    """A ``share`` of rank.train's queries (drawn by ``seed``) and all of rank.test."""
    train = read_svmlight(SAMPLE / "rank.train")
    test = read_svmlight(SAMPLE / "rank.test", n_features=train.n_features)
    if share < 1:
        train = train.subset(np.sort(np.random.default_rng(seed).permutation(len(train))[: round(share * len(train))]))
    return train, test


def run_mlp(job: tuple[Setup, int]) -> dict:
    """One seed of one setup through ``Ranker.fit``: its history holds, for every epoch, the held-out
    metrics and the collapse check on the held-out groups."""
    setup, seed = job
    torch.set_num_threads(1)
    if setup.data == "sample":
        train, held = sample_split(setup.size, seed)
    else:
        truth = PlantedPreference(seed)
        train, held = as_groups(*truth.examples(int(setup.size))), as_groups(*truth.examples(1_000))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", CollapseWarning)  # the verdicts are read from the history
        history = setup.ranker(seed).fit(train, eval_set=held).members_[0]["history"]
    messages = [str(w.message) for w in caught if issubclass(w.category, CollapseWarning)]
    last = history[-1]
    fired = [record["epoch"] for record in history if record["collapse"]["collapsed"]]
    return {
        "setup": setup.name, "seed": seed, "collapsed": last["collapse"]["collapsed"], "first_fired_epoch": fired[0] if fired else None,
        "final_train_loss": last["loss"], "heldout_spread": last["collapse"]["spread"],
        "heldout_pair_accuracy": last["collapse"]["pairwise_accuracy"], "heldout_ndcg@1": last["metrics"]["ndcg@1"],
        "heldout_ndcg@10": last["metrics"]["ndcg@10"], "best_heldout_ndcg@1": max(r["metrics"]["ndcg@1"] for r in history),
        "spread_by_epoch": [record["collapse"]["spread"] for record in history],
        "message": messages[-1] if messages else None,
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
        ndcg = sorted(r["heldout_ndcg@10"] for r in runs)
        fired = [r["first_fired_epoch"] for r in runs if r["collapsed"]]
        rows.append({
            "setup": setup.name, "data": setup.data, "size": setup.size, "epochs": setup.epochs,
            "collapsed": sum(r["collapsed"] for r in runs), "runs": len(runs),
            "median_first_fired_epoch": sorted(fired)[len(fired) // 2] if fired else None,
            "median_spread": sorted(r["heldout_spread"] for r in runs)[len(runs) // 2],
            "ndcg@10_min": ndcg[0], "ndcg@10_median": ndcg[len(runs) // 2],
            "median_pair_accuracy": sorted(r["heldout_pair_accuracy"] for r in runs)[len(runs) // 2],
            "median_final_loss": sorted(r["final_train_loss"] for r in runs)[len(runs) // 2],
        })
    return rows


def markdown(summary: list[dict], mf_runs: list[dict], seconds: float) -> str:
    lines = [
        "# Max-margin collapse: unguarded vs guarded",
        "",
        f"`Ranker` with an MLP scorer (F -> 64 -> 64 -> 1, ReLU, raw features), plain SGD lr 0.01, 32 groups per batch, "
        f"MaxMarginHinge(margin 1) unless a guard changes the loss; {len(SEEDS)} seeds each. Planted: {NEGATIVES} negatives "
        f"per example, noisy planted positives (softmax temperature {TEMPERATURE}), 1000 held-out examples. Sample: "
        "rank.train (a share of its queries), held out: rank.test. 'collapsed' = the collapse check fires on the held-out "
        "groups after the last epoch (first fired: the first epoch it fired); spread = mean std of a group's scores "
        "(the margin is 1); NDCG@10 and pair accuracy (positives above lower-labelled rows) on the held-out groups "
        "at the last epoch.",
        "",
        "| setup | train size | epochs | collapsed | first fired (median) | median spread | held-out NDCG@10 min / median | pair accuracy | final loss |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for row in summary:
        size = f"{row['size']:.0%} of queries" if row["data"] == "sample" else f"{int(row['size'])} examples"
        fired = "-" if row["median_first_fired_epoch"] is None else str(row["median_first_fired_epoch"])
        lines.append(
            f"| {row['setup']} | {size} | {row['epochs']} | {row['collapsed']} / {row['runs']} | {fired} | "
            f"{row['median_spread']:.3g} | {row['ndcg@10_min']:.3f} / {row['ndcg@10_median']:.3f} | "
            f"{row['median_pair_accuracy']:.3f} | {row['median_final_loss']:.3f} |"
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
