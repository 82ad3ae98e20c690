"""The ``marginrank`` command: parse the sub-command and run it, reporting bad input on one line.

Each sub-command module (listed in :mod:`marginrank.cli.commands`) exposes ``register(subparsers)``, which adds its parser and sets
``func(args) -> int`` as the default. Before a sub-command runs, glibc's allocator is tuned for
tensor-heavy work (:func:`marginrank.allocator.tune_allocator`; ``MARGINRANK_KEEP_MALLOC=1`` opts
out). Bad input (a :class:`MarginRankError`) and a path the system cannot read or write (an
``OSError``) are printed as one line on stderr with exit status 2, never as a traceback. Under
torchrun, a rank that fails says so (``marginrank: rank R of W failed: ...``) and exits non-zero,
and torchrun stops the other ranks.
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback
import warnings
from collections.abc import Sequence
from pathlib import Path

from marginrank import __version__
from marginrank.allocator import tune_allocator
from marginrank.errors import MarginRankError, SettingError, SettingWarning


DESCRIPTION = (
    "Train recommenders (matrix factorization, LightGCN) with margin and contrastive losses (MMCL, CCL, BPR, "
    "softmax, ...), evaluate them by full ranking against a popularity baseline, and use the trained runs: "
    "recommend, export embeddings, plot training curves; search hyper-parameters on the validation split. Also trains "
    "rankers over feature rows grouped by query (rank-train) and encoders over class labels (metric-train), validates "
    "datasets and fits masked NMF."
)
EPILOG = "Run 'marginrank COMMAND --help' for the options of a command. Bad input exits with status 2 and a one-line message."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="marginrank", description=DESCRIPTION, epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"marginrank {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    from marginrank.cli import commands

    for module in commands.all_commands():
        module.register(subparsers)
    return parser


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings for a person at a terminal: what happened, not the library line that noticed it;
    one raised by another library (torch, numpy) says which, and one that names a setting names its
    option too."""
    from marginrank.cli.settings import option_of

    if isinstance(message, SettingWarning):
        message = f"{message} (option {option_of(message.setting)})"
    parts = Path(filename).parts
    if "marginrank" in parts:
        origin = ""
    else:
        package = parts[parts.index("site-packages") + 1] if "site-packages" in parts else Path(filename).stem
        origin = f" (from {package}: {category.__name__})"
    return f"marginrank: warning{origin}: {message}\n"


def _bad_input(error: MarginRankError, label: str | None) -> int:
    """One line on stderr (naming the rank under torchrun), exit status 2. The library names a bad
    setting; here it is also named as the option that sets it."""
    from marginrank.cli.settings import option_of
    from marginrank.training.distributed import failure_message

    if isinstance(error, SettingError):
        error = MarginRankError(f"{error} (option {option_of(error.setting)})")
    print(failure_message(error, label) if label else f"marginrank: error: {error}", file=sys.stderr)
    return 2


def main(argv: Sequence[str] | None = None) -> int:
    previous, warnings.formatwarning = warnings.formatwarning, _one_line_warning
    try:
        return _run(argv)
    finally:
        warnings.formatwarning = previous


def _run(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 2
    from marginrank.training.distributed import failure_message, lost_peer, rank_label

    label = rank_label()
    tune_allocator()
    try:
        return int(args.func(args) or 0)
    except MarginRankError as error:
        return _bad_input(error, label)
    except BrokenPipeError:  # the reader went away (``| head``): stop quietly, as other tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as error:  # a path that cannot be read or written: the system's reason, no traceback
        path = error.filename2 or error.filename  # a rename names its destination second
        return _bad_input(MarginRankError(str(error.strerror or error), path=None if path is None else str(path)), label)
    except Exception as error:
        if label is None:
            raise
        if not lost_peer(error):
            traceback.print_exc()
        print(failure_message(error, label), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("marginrank: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
