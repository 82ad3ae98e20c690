"""``marginrank plot RUN``: one PNG with the loss and metric curves and the histogram of positive vs
negative scores (the picture that shows a collapse: both histograms piled on one value)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from marginrank.atomic import atomic_open
from marginrank.cli.figures import pyplot
from marginrank.cli.runs import LOG, load_run
from marginrank.errors import MarginRankError


def register(subparsers) -> None:
    parser = subparsers.add_parser("plot", help="PNG of loss and metric curves and of positive vs negative scores")
    parser.add_argument("run", type=Path, help="run folder written by train")
    parser.add_argument("--out", type=Path, default=None, help="PNG path (default: RUN/training.png)")
    parser.add_argument("--users", type=int, default=500, help="users sampled for the score histogram")
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
        if not isinstance(record, dict) or not {"epoch", "loss"} <= record.keys():
            raise MarginRankError("not an epoch record (an object with 'epoch' and 'loss')", path=str(path), line=number)
        records.append(record)
    return records


def score_samples(recommender, n_users: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Scores of sampled users' training items (positives) and of as many random items (negatives)."""
    rng = np.random.default_rng(seed)
    seen = recommender.seen
    users = rng.choice(seen.shape[0], size=min(n_users, seen.shape[0]), replace=False)
    rows = seen[users]
    pos_users = np.repeat(np.arange(len(users)), np.diff(rows.indptr))
    neg_items = rng.integers(seen.shape[1], size=len(pos_users))
    with torch.no_grad():
        scores = recommender.model.score_all(torch.from_numpy(users)).cpu().numpy()
    return scores[pos_users, rows.indices], scores[pos_users, neg_items]


def run(args: argparse.Namespace) -> int:
    if args.users < 1:
        raise MarginRankError(f"--users must be at least 1, got {args.users}")
    plt = pyplot()
    records = read_log(args.run)
    recommender = load_run(args.run)
    positives, negatives = score_samples(recommender, args.users)
    epochs = [r["epoch"] for r in records]
    figure, (loss_axis, metric_axis, hist_axis) = plt.subplots(1, 3, figsize=(15, 4.2))
    loss_axis.plot(epochs, [r["loss"] for r in records], marker="o")
    loss_axis.set(title="training loss and learning rate", xlabel="epoch", ylabel="loss")
    if all("lr" in r for r in records):
        rate_axis = loss_axis.twinx()
        rate_axis.plot(epochs, [r["lr"] for r in records], color="gray", linestyle="--")
        rate_axis.set(ylabel="learning rate (dashed)", yscale="log")
    evaluated = [r for r in records if "metrics" in r]
    for key in sorted(evaluated[0]["metrics"]) if evaluated else []:
        if key.startswith(("recall@", "ndcg@")):
            metric_axis.plot([r["epoch"] for r in evaluated], [r["metrics"][key] for r in evaluated], marker="o", label=key)
    optimistic = bool(records and records[-1].get("optimistic"))
    metric_axis.set(title="selection metrics" + (" (test split: optimistic)" if optimistic else " (validation)"), xlabel="epoch")
    if evaluated:
        metric_axis.legend()
    bins = np.linspace(min(positives.min(), negatives.min()), max(positives.max(), negatives.max()) + 1e-12, 60)
    hist_axis.hist(negatives, bins=bins, alpha=0.6, density=True, label="random items")
    hist_axis.hist(positives, bins=bins, alpha=0.6, density=True, label="training positives")
    hist_axis.set(title="scores: positives vs random items", xlabel="score")
    hist_axis.legend()
    figure.tight_layout()
    out = args.out or args.run / "training.png"
    with atomic_open(out, "wb") as handle:
        figure.savefig(handle, format="png", dpi=110)
    plt.close(figure)
    print(f"wrote {out}")
    return 0
