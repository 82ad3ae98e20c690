"""Turn ``--dataset NAME`` / ``--data PATH`` into a :class:`Dataset` (shared by the sub-commands)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from marginrank import datasets
from marginrank.cli.settings import SPLITS, RunSettings, option_of
from marginrank.data import Dataset, Layout, holdout_split, leave_last_out, read_delimited, read_lightgcn_split
from marginrank.data.text import source_name
from marginrank.errors import MarginRankError

STDIN = Path("-")


def add_source_options(parser, *, default_dataset: str | None = "synthetic") -> None:
    group = parser.add_mutually_exclusive_group()
    group.add_argument(
        "--dataset",
        choices=datasets.NAMES,
        default=None,
        help=f"a named dataset (default: {default_dataset})" if default_dataset else "a named dataset",
    )
    group.add_argument(
        "--data",
        type=Path,
        default=None,
        help="a folder with LightGCN-format train.txt and test.txt, or one delimited file "
        "(user,item[,rating[,timestamp]], gzip or not; - reads standard input) split per user (--split)",
    )
    parser.add_argument("--data-root", type=Path, default=None, help="where named datasets live (default: $MARGINRANK_DATA or the cache)")
    parser.add_argument(
        "--split", default=None, metavar="|".join(SPLITS),
        help="how a single --data file is split per user: holdout (20%% at random, the default) or "
        "leave-last-out (each user's latest item by timestamp)",
    )
    parser.add_argument("--split-seed", type=int, default=None, help="seed of the holdout split of a single --data file (default: 0)")
    parser.add_argument(
        "--header", action=argparse.BooleanOptionalAction, default=None,
        help="whether a single --data file starts with a line of column names (default: detected, and said on stderr)",
    )
    parser.add_argument("--min-rating", type=float, default=None, help="keep only the rows of a single --data file rated at least this")


def load_source(settings: RunSettings) -> Dataset:
    """The dataset the settings name; a single delimited file (``-``: standard input) is split per user."""
    data = settings.data
    if data is None or data.is_dir():
        _refuse_file_settings(settings)
    if data is None:
        return datasets.load(settings.dataset or "synthetic", root=settings.data_root)
    if data.is_dir():
        if not (data / "train.txt").exists():
            raise MarginRankError("expected train.txt and test.txt (LightGCN format) in this folder", path=str(data))
        train, test = read_lightgcn_split(data)
        return Dataset(data.name, train, test)
    source = sys.stdin.buffer if data == STDIN else data
    everything = read_delimited(
        source, header=settings.header, min_rating=settings.min_rating,
        report=lambda layout: _say_layout(layout, source_name(source)),
    )
    if settings.split == "leave-last-out":
        if everything.timestamps is None:
            raise MarginRankError(
                f"split 'leave-last-out' needs timestamps (a fourth column); this file has none (option {option_of('split')})",
                path=everything.source,
            )
        train, test = leave_last_out(everything)
    else:
        train, test = holdout_split(everything, 0.2, seed=settings.split_seed)
    if len(test) == 0:
        raise MarginRankError(
            f"no user has two or more items, so the {settings.split} split per user leaves nothing to test", path=everything.source
        )
    return Dataset("stdin" if data == STDIN else Path(data.name.removesuffix(".gz")).stem, train, test)


def _refuse_file_settings(settings: RunSettings) -> None:
    """Settings that shape how a delimited file is read and split, given for a source that is none."""
    given = [key for key, unset in (("header", None), ("min_rating", None), ("split", "holdout")) if getattr(settings, key) != unset]
    if given:
        raise MarginRankError(
            f"{option_of(given[0])} applies to a single delimited --data file, not to "
            + (f"the LightGCN split in {settings.data}" if settings.data else "a named dataset")
        )


def _say_layout(layout: Layout, name: str) -> None:
    """One line on stderr: how the file was read, and the option that reads its first line the other way."""
    other = "--no-header reads it as a row" if layout.header is not None else "--header skips a first line of names"
    print(f"marginrank: read {name}: {layout} ({other})", file=sys.stderr)
