"""``marginrank plot RUN``: one PNG of a run. Per epoch, the training loss and learning rate, and the
selection metrics against the popularity baseline on the same split, with the best epoch marked; and
the scores of held-out test positives, training positives and unseen items for a sample of users (the
picture that shows a collapse: the histograms piled on one value)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from marginrank.atomic import atomic_open
from marginrank.cli.figures import integer_ticks, pyplot
from marginrank.cli.runs import LOG, load_run, load_run_data
from marginrank.data import Interactions
from marginrank.errors import MarginRankError
from marginrank.metrics import evaluate_popularity
from marginrank.recommender import Recommender


def register(subparsers) -> None:
    parser = subparsers.add_parser("plot", help="PNG of loss and metric curves and of held-out vs unseen scores")
    parser.add_argument("run", type=Path, help="run folder written by train")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default: RUN/training.png)")
    parser.add_argument("--users", type=int, default=500, help="users (with test items) sampled for the score histograms")
    parser.set_defaults(func=run)


def read_log(run: Path) -> list[dict]:
    path = run / LOG
    if not path.exists():
        raise MarginRankError("no training log here", path=str(path))
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise MarginRankError("not a training log (not UTF-8 text)", path=str(path)) from None
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise MarginRankError("not a JSON line", path=str(path), line=number) from None
        if not isinstance(record, dict) or "epoch" not in record or not ({"loss", "metrics"} & record.keys()):
            raise MarginRankError("not an epoch record (an object with 'epoch' and 'loss' or 'metrics')", path=str(path),
                                  line=number)
        records.append(record)
    return records


def score_samples(
    recommender: Recommender, test: Interactions, users: np.ndarray, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores of ``users``' held-out test items, of their training items, and of one random item per test
    item that is neither (redrawn up to ten times; the few still known after that are dropped)."""
    train_rows, test_rows = recommender.seen[users], test.matrix[users]
    with torch.no_grad():
        scores = recommender.model.score_all(torch.from_numpy(users)).cpu().numpy()
    known = (train_rows + test_rows).toarray() != 0
    held_users = np.repeat(np.arange(len(users)), np.diff(test_rows.indptr))
    train_users = np.repeat(np.arange(len(users)), np.diff(train_rows.indptr))
    rng = np.random.default_rng(seed)
    items = rng.integers(known.shape[1], size=len(held_users))
    for _ in range(10):
        clash = known[held_users, items]
        if not clash.any():
            break
        items[clash] = rng.integers(known.shape[1], size=int(clash.sum()))
    keep = ~known[held_users, items]
    return scores[held_users, test_rows.indices], scores[train_users, train_rows.indices], scores[held_users[keep], items[keep]]


def _draw_loss(axes, records: list[dict]) -> None:
    records = [r for r in records if "loss" in r]  # the evaluated start (epoch 0) has none
    epochs = [r["epoch"] for r in records]
    axes.plot(epochs, [r["loss"] for r in records], marker="o", label="loss")
    axes.set(title="training loss and learning rate", xlabel="epoch", ylabel="loss")
    if all("lr" in r for r in records):
        rate_axis = axes.twinx()
        rate_axis.plot(epochs, [r["lr"] for r in records], color="gray", linestyle="--")
        rate_axis.set(ylabel="learning rate (dashed)", yscale="log")


def _draw_metrics(axes, records: list[dict], recommender: Recommender, dataset) -> None:
    """Recall and NDCG per evaluated epoch, each with the popularity baseline on the split they were measured on."""
    fit_on, held_out = recommender.selection_split(dataset.train, dataset.test)
    split = {"paper": "test split: optimistic", "validation": "validation split"}.get(recommender.params.protocol)
    axes.set(title=f"selection metrics ({split or 'protocol none: not evaluated'})", xlabel="epoch", ylabel="metric value")
    evaluated = [r for r in records if "metrics" in r]
    if held_out is None or not evaluated:
        return
    baseline = evaluate_popularity(fit_on.matrix, held_out.matrix, recommender.params.ks, seed=recommender.params.seed)
    for key in sorted(evaluated[0]["metrics"]):
        if key.startswith(("recall@", "ndcg@")):
            (curve,) = axes.plot([r["epoch"] for r in evaluated], [r["metrics"][key] for r in evaluated], marker="o", label=key)
            axes.axhline(baseline[key], color=curve.get_color(), linestyle="--", label=f"popularity {key}")


def _draw_scores(axes, recommender: Recommender, test: Interactions, n_users: int) -> None:
    with_test_items = np.flatnonzero(np.diff(test.matrix.indptr))
    users = np.random.default_rng(0).choice(with_test_items, size=min(n_users, len(with_test_items)), replace=False)
    held_out, training, unseen = score_samples(recommender, test, users)
    every = np.concatenate([held_out, training, unseen])
    bins = np.linspace(every.min(), every.max() + 1e-12, 60)
    for values, label in ((unseen, "unseen items"), (training, "training positives"), (held_out, "held-out test positives")):
        axes.hist(values, bins=bins, alpha=0.45, density=True, label=label)
    axes.set(title=f"scores of {len(users)} sampled users", xlabel="score", ylabel="density")
    axes.legend()


def training_figure(run: Path, n_users: int = 500):
    """The figure ``plot`` writes, for the finished run in folder ``run``."""
    records = read_log(run)
    recommender = load_run(run)
    dataset = load_run_data(run, recommender)
    figure, (loss_axis, metric_axis, score_axis) = pyplot().subplots(1, 3, figsize=(15, 4.2))
    _draw_loss(loss_axis, records)
    _draw_metrics(metric_axis, records, recommender, dataset)
    best = records[-1].get("best_epoch") if records else None
    for axes in (loss_axis, metric_axis):
        integer_ticks(axes)
        if best is not None:
            axes.axvline(best, color="black", linestyle=":", label=f"best epoch {best}")
        if axes.get_lines():
            axes.legend(fontsize="small")
    _draw_scores(score_axis, recommender, dataset.test, n_users)
    figure.tight_layout()
    return figure


def run(args: argparse.Namespace) -> int:
    if args.users < 1:
        raise MarginRankError(f"--users must be at least 1, got {args.users}")
    figure = training_figure(args.run, args.users)
    out = args.out or args.run / "training.png"
    with atomic_open(out, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)
    pyplot().close(figure)
    print(f"wrote {out}")
    return 0
