"""``marginrank recommend RUN --user ID -k 20``: top items for users, in raw ids, training items excluded."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from marginrank.cli.runs import load_run
from marginrank.data.interactions import id_index, lookup_ids


def register(subparsers) -> None:
    parser = subparsers.add_parser("recommend", help="top-k items for users of a finished run")
    parser.add_argument("run", type=Path, help="run folder written by train")
    parser.add_argument("--user", action="append", required=True, help="raw user id (repeatable)")
    parser.add_argument("-k", type=int, default=20, help="number of items (default: 20)")
    parser.add_argument("--json", action="store_true", help="print one JSON object per user")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    recommender = load_run(args.run)
    items, scores = recommender.recommend(args.user, k=args.k)
    if args.json:  # the stored ids, so users and items come out with the same JSON types
        stored_users = recommender.user_ids[lookup_ids(id_index(recommender.user_ids), args.user, "user")].tolist()
        for user, row, row_scores in zip(stored_users, items.tolist(), scores.tolist()):
            print(json.dumps({"user": user, "items": row, "scores": [round(s, 6) for s in row_scores]}))
        return 0
    for user, row in zip(args.user, items.tolist()):
        print(f"{user}: {' '.join(map(str, row))}")
    return 0
