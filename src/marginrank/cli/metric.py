"""``marginrank metric-train``: metric learning over labels (the built-in digits or a labelled CSV), evaluated by k-NN retrieval on held-out data."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from marginrank.atomic import atomic_write_text
from marginrank.data.labelled import read_labelled_csv
from marginrank.errors import MarginRankError
from marginrank.metric_learner import OPTIMIZERS, MetricLearner
from marginrank.models.similarity import SIMILARITIES
from marginrank.sampling import label_miners
from marginrank.training.run_folder import claim

MODEL, METRICS = "model.pt", "metrics.json"
DIGITS = "digits"


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "metric-train",
        help="learn embeddings whose nearest neighbours share a label (triplet, contrastive, multi-similarity, MMCL...)",
        description="Train an MLP encoder on labelled feature vectors with a metric-learning loss and evaluate it by "
        "exact k-NN retrieval on held-out classes or samples (P@1, R-Precision, MAP@R, Recall@k). --data digits is "
        "scikit-learn's 8x8 digits; a CSV has a header row, a label column (--label) and numeric feature columns. "
        f"Writes {MODEL}, {METRICS} and the training log (log.jsonl) into --out.",
    )
    parser.add_argument("--data", default=DIGITS, help=f"{DIGITS!r} (the built-in) or a CSV file [digits]")
    parser.add_argument("--label", help="the CSV's label column")
    held_out = parser.add_mutually_exclusive_group()
    held_out.add_argument("--held-out-classes", help="classes kept out of training, comma-separated (digits: 7,8,9)")
    held_out.add_argument("--held-out-samples", type=float, help="fraction of each class's samples kept out (CSV default 0.2)")
    parser.add_argument("--loss", default="triplet", help="triplet, contrastive, multi-similarity or a score loss (mmcl, ccl...) [triplet]")
    parser.add_argument("--margin", type=float, help="the triplet loss's margin [0.2]")
    parser.add_argument("--miner", choices=["none", *label_miners.available()], default="none",
                        help="label miner; none: every anchor-positive pair with every negative [none]")
    parser.add_argument("--similarity", choices=SIMILARITIES, default="euclidean")
    parser.add_argument("--normalize", action=argparse.BooleanOptionalAction, default=True, help="L2-normalize the embeddings [yes]")
    parser.add_argument("--dim", type=int, default=32, help="embedding width [32]")
    parser.add_argument("--hidden", default="128", help="hidden layer widths, comma-separated; empty for a linear map [128]")
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default="adam")
    parser.add_argument("--momentum", type=float, default=0.0, help="SGD's momentum [0]")
    parser.add_argument("--classes-per-batch", type=int, help="classes in a batch [8, or every training class when fewer]")
    parser.add_argument("--samples-per-class", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True, help="run folder (created; one with a finished model is refused)")
    parser.add_argument("--quiet", action="store_true", help="no line per epoch")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if (args.out / MODEL).exists():
        raise MarginRankError(f"already holds a finished {MODEL}: choose another --out", path=str(args.out))
    train, held_out, source = _split(args)
    learner = MetricLearner(
        loss=args.loss, loss_params=None if args.margin is None else {"margin": args.margin},
        miner=None if args.miner == "none" else args.miner, similarity=args.similarity, normalize=args.normalize,
        dim=args.dim, hidden=_widths(args.hidden), classes_per_batch=args.classes_per_batch,
        samples_per_class=args.samples_per_class, epochs=args.epochs, lr=args.lr, optimizer=args.optimizer,
        momentum=args.momentum, seed=args.seed, run_dir=args.out, progress=not args.quiet,
    )
    print(f"training {args.loss} on {source}: {len(train[1])} samples of {len(np.unique(train[1]))} classes, "
          f"{train[0].shape[1]} features; held out {len(held_out[1])} -> {args.out}", file=sys.stderr)
    with claim(args.out):
        learner.fit(*train, validation=held_out)
        metrics = {"held_out": learner.evaluate(*held_out), "best_epoch": max(
            learner.history_, key=lambda record: record.get("metrics", {}).get("map@r", -1.0))["epoch"],
            "collapse": learner.history_[-1]["collapse"], "data": source}
        learner.save(args.out / MODEL)
        atomic_write_text(args.out / METRICS, json.dumps(metrics, indent=2) + "\n")
    print(" ".join(f"{name} {value:.4f}" for name, value in metrics["held_out"].items() if name != "queries"))
    return 0


def _split(args: argparse.Namespace) -> tuple[tuple[np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray], str]:
    """(training features, labels), (held-out features, labels), and the data's name."""
    if args.data == DIGITS:
        from marginrank.datasets.digits import load_digits

        if args.held_out_samples is not None:
            raise MarginRankError("digits holds out classes (--held-out-classes, default 7,8,9)")
        classes = _list(args.held_out_classes or "7,8,9", "--held-out-classes")
        if not all(text.isdigit() for text in classes):
            raise MarginRankError(f"digits' classes are 0-9; got --held-out-classes {args.held_out_classes!r}")
        split = load_digits([int(text) for text in classes])
        return ((split.train_features.numpy(), split.train_labels.numpy()), (split.test_features.numpy(), split.test_labels.numpy()),
                f"digits (held out {','.join(classes)})")
    if args.label is None:
        raise MarginRankError("a CSV needs --label, the name of its label column")
    data = read_labelled_csv(args.data, args.label)
    if args.held_out_classes is not None:
        named = _list(args.held_out_classes, "--held-out-classes")
        unknown = sorted(set(named) - set(data.classes))
        if unknown:
            raise MarginRankError(f"--held-out-classes names classes not in column {args.label!r}: {', '.join(unknown)}", path=args.data)
        test = np.isin(np.array(data.classes)[data.labels], named)
    else:
        test = _held_out_samples(data.labels, 0.2 if args.held_out_samples is None else args.held_out_samples, args.seed)
    if test.all() or not test.any():
        raise MarginRankError("the held-out part must leave samples both for training and for evaluation", path=args.data)
    return (data.features[~test], data.labels[~test]), (data.features[test], data.labels[test]), str(args.data)


def _held_out_samples(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A mask of ``fraction`` of each class's samples (rounded, at least one of a class with two or more), drawn with ``seed``."""
    if not 0 < fraction < 1:
        raise MarginRankError(f"--held-out-samples is a fraction in (0, 1); got {fraction}")
    rng = np.random.default_rng(seed)
    test = np.zeros(len(labels), dtype=bool)
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        test[rows[: max(round(fraction * len(rows)), 1) if len(rows) > 1 else 0]] = True
    return test


def _list(text: str, option: str) -> list[str]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise MarginRankError(f"{option} takes comma-separated values; got {text!r}")
    return parts


def _widths(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise MarginRankError(f"--hidden takes positive widths separated by commas, e.g. 128,64; got {text!r}")
    return tuple(int(part) for part in parts)
