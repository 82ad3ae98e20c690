"""``marginrank rank-train`` and ``rank-predict``: learning to rank over features (grouped candidate lists)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from marginrank.atomic import atomic_write_text
from marginrank.cli.runs import METRICS
from marginrank.cli.settings import _parse_table
from marginrank.data.groups import RankingGroups
from marginrank.data.ranking_readers import read_ranking
from marginrank.errors import MarginRankError
from marginrank.ranker import Ranker, RankerParams
from marginrank.training.run_folder import claim

RANKER = "ranker.pt"
DEFAULTS = RankerParams()
DATA_HELP = ("SVMlight / LETOR file (label qid:Q index:value ...; groups from --query, <file>.query, or qid), or a "
             ".csv / .tsv / .parquet table with --group, --label and feature columns")


def register(subparsers: argparse._SubParsersAction) -> None:
    train = subparsers.add_parser(
        "rank-train",
        help="learning to rank: train a scorer over feature rows grouped by query",
        description="Train a scorer s(x) (an MLP by default) on grouped candidate lists: within a group every row is "
        "a positive against the rows labelled below it. Early stopping on held-out groups (NDCG@10), an ensemble of "
        "--models scorers, the collapse check every epoch. Writes ranker.pt, metrics.json and each scorer's log.",
    )
    train.add_argument("train", type=Path, help=DATA_HELP)
    _add_data_options(train, "train")
    train.add_argument("--test", type=Path, help="data to report the metrics on (same format as the training data)")
    train.add_argument("--test-query", type=Path, help="query file of the test data (default: <test>.query if it exists)")
    train.add_argument("--loss", default=DEFAULTS.loss, help="loss name (see docs/losses.md) [softmax]")
    train.add_argument("--loss-param", action="append", default=[], metavar="KEY=VALUE",
                       help="a loss parameter in TOML syntax, e.g. margin=0.5 (repeatable)")
    train.add_argument("--hidden", default=",".join(map(str, DEFAULTS.hidden)),
                       help="hidden widths of the MLP scorer, comma-separated; empty for a linear scorer [128]")
    train.add_argument("--weights", choices=("ndcg", "gain", "none"), default=DEFAULTS.weights,
                       help="what each positive row weighs in the loss [ndcg]")
    train.add_argument("--cosine-head", action="store_true", help="bounded cosine head (a collapse guard)")
    train.add_argument("--standardize-scores", action="store_true", help="the loss sees z-scores per group (a collapse guard)")
    train.add_argument("--max-norm", type=float, help="keep the weight rows at this norm (a collapse guard)")
    train.add_argument("--models", type=int, default=DEFAULTS.n_models, help="scorers in the ensemble [5]")
    train.add_argument("--epochs", type=int, default=DEFAULTS.epochs)
    train.add_argument("--lr", type=float, default=DEFAULTS.lr)
    train.add_argument("--weight-decay", type=float, default=DEFAULTS.weight_decay)
    train.add_argument("--groups-per-batch", type=int, default=DEFAULTS.groups_per_batch)
    train.add_argument("--validation", type=float, default=DEFAULTS.validation,
                       help="share of the groups held out for early stopping; 0: none, train every epoch [0.2]")
    train.add_argument("--patience", type=int, default=DEFAULTS.patience)
    train.add_argument("--on-collapse", choices=("warn", "stop"), default=DEFAULTS.on_collapse)
    train.add_argument("--seed", type=int, default=DEFAULTS.seed)
    train.add_argument("--out", type=Path, required=True, help="run folder (created; must not hold a ranker)")
    train.add_argument("--resume", action="store_true", help="continue an interrupted rank-train in --out")
    train.add_argument("--quiet", action="store_true", help="no line per epoch")
    train.set_defaults(func=run_train)

    predict = subparsers.add_parser(
        "rank-predict", help="score grouped candidate lists with a trained ranker",
        description="Write one score per row (rank each group's rows by it, highest first); with labels in the "
        "data, print the metrics too.",
    )
    predict.add_argument("data", type=Path, help=DATA_HELP)
    _add_data_options(predict, "data")
    predict.add_argument("--model", type=Path, required=True, help="a rank-train run folder, or its ranker.pt")
    predict.add_argument("--out", type=Path, required=True, help="file of scores, one per row (must not exist)")
    predict.set_defaults(func=run_predict)


def _add_data_options(parser: argparse.ArgumentParser, name: str) -> None:
    parser.add_argument("--query", type=Path, help=f"query file of group sizes for the {name} (default: <file>.query if it exists)")
    parser.add_argument("--group", default="qid", help="group column of a table [qid]")
    parser.add_argument("--label", default="label", help="label column of a table [label]")
    parser.add_argument("--features", help="feature columns of a table, comma-separated [all others]")


def _read(path: Path, query: Path | None, args: argparse.Namespace, n_features: int | None = None) -> RankingGroups:
    features = None if args.features is None else [c.strip() for c in args.features.split(",") if c.strip()]
    return read_ranking(path, query=query, group=args.group, label=args.label, features=features, n_features=n_features)


def _hidden(text: str) -> tuple[int, ...]:
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not all(part.isdigit() and int(part) > 0 for part in parts):
        raise MarginRankError(f"--hidden takes positive widths separated by commas, e.g. 128,64; got {text!r}")
    return tuple(int(part) for part in parts)


def run_train(args: argparse.Namespace) -> int:
    if (args.out / RANKER).exists():
        raise MarginRankError(f"already holds a finished {RANKER}: choose another --out", path=str(args.out))
    if args.resume and not args.out.is_dir():
        raise MarginRankError("no run folder here to resume", path=str(args.out))
    train = _read(args.train, args.query, args)
    test = None if args.test is None else _read(args.test, args.test_query, args, n_features=train.n_features)
    ranker = Ranker(
        args.loss, loss_params=_parse_table("--loss-param", args.loss_param) or None, hidden=_hidden(args.hidden),
        weights=args.weights, normalize_output=args.cosine_head, standardize_scores=args.standardize_scores,
        max_norm=args.max_norm, n_models=args.models, epochs=args.epochs, lr=args.lr, weight_decay=args.weight_decay,
        groups_per_batch=args.groups_per_batch, validation=args.validation or None, patience=args.patience,
        on_collapse=args.on_collapse, seed=args.seed, run_dir=args.out, progress=not args.quiet,
    )
    print(f"training {args.models} scorer(s) with {args.loss} on {len(train)} groups, {train.labels.shape[0]} rows, "
          f"{train.n_features} features -> {args.out}", file=sys.stderr)
    with claim(args.out):
        ranker.fit(train, resume=args.resume)
        metrics = {"validation": ranker.best_metrics_, "best_epochs": [m["best_epoch"] for m in ranker.members_]}
        if test is not None:
            metrics["test"] = ranker.score(test)
        ranker.save(args.out / RANKER)
        atomic_write_text(args.out / METRICS, json.dumps(metrics, indent=2) + "\n")
    _print_metrics(metrics.get("test") or metrics["validation"], "test" if test is not None else "validation (held-out groups)")
    return 0


def run_predict(args: argparse.Namespace) -> int:
    path = args.model / RANKER if args.model.is_dir() else args.model
    if args.out.exists():
        raise MarginRankError("already exists: choose another --out", path=str(args.out))
    ranker = Ranker.load(path)
    data = _read(args.data, args.query, args, n_features=ranker.n_features_)
    scores = ranker.predict(data)
    atomic_write_text(args.out, "".join(f"{score:.7g}\n" for score in scores))
    print(f"wrote {len(scores)} scores to {args.out}", file=sys.stderr)
    if float(data.labels.max()) > float(data.labels.min()):
        _print_metrics(ranker.score(data), str(args.data))
    return 0


def _print_metrics(metrics: dict[str, float], where: str) -> None:
    if not metrics:
        return
    print(f"metrics on {where}:")
    for key, value in metrics.items():
        print(f"  {key:<14}{value:.4f}")
