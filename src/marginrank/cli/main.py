"""`marginrank` command: one sub-command per module in this folder.

Each sub-command module exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the default. Bad input (a :class:`MarginRankError`) is printed as one
line on stderr with exit status 2, never as a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from marginrank import __version__
from marginrank.errors import MarginRankError


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marginrank", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"marginrank {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    from marginrank.cli import commands

    for module in commands.all_commands():
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except MarginRankError as error:
        print(f"marginrank: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("marginrank: interrupted", file=sys.stderr)
        return 130
