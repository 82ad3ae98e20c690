"""``marginrank recommend RUN --user ID -k 20``: top items for users, in raw ids, training items excluded."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from marginrank.cli.runs import load_run


def register(subparsers) -> None:
    parser = subparsers.add_parser("recommend", help="top-k items for users of a finished run")
    parser.add_argument("run", type=Path, help="run folder written by train")
    parser.add_argument("--user", action="append", required=True, help="raw user id (repeatable)")
    parser.add_argument("-k", type=int, default=20, help="number of items (default: 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per user")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    items, scores = load_run(args.run).recommend(args.user, k=args.k)
    for user, row, row_scores in zip(args.user, items.tolist(), scores.tolist()):
        if args.json:
            print(json.dumps({"user": user, "items": row, "scores": [round(s, 6) for s in row_scores]}))
        else:
            print(f"{user}: {' '.join(map(str, row))}")
    return 0
