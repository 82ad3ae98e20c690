"""Turn ``--dataset NAME`` / ``--data PATH`` into a :class:`Dataset` (shared by the sub-commands)."""

from __future__ import annotations

from pathlib import Path

from marginrank import datasets
from marginrank.data import Dataset, holdout_split, read_delimited, read_lightgcn_split
from marginrank.errors import MarginRankError


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
        "(user,item[,rating[,timestamp]]) split 80/20 per user",
    )
    parser.add_argument("--data-root", type=Path, default=None, help="where named datasets live (default: $MARGINRANK_DATA or the cache)")
    parser.add_argument("--split-seed", type=int, default=None, help="seed of the 80/20 split of a single --data file (default: 0)")


def load_source(dataset: str | None, data: Path | None, data_root: Path | None = None, split_seed: int | None = None) -> Dataset:
    """The dataset the options name; a single delimited file is split 80/20 per user (seed 0 unless given)."""
    if data is None:
        return datasets.load(dataset or "synthetic", root=data_root)
    if data.is_dir():
        if not (data / "train.txt").exists():
            raise MarginRankError("expected train.txt and test.txt (LightGCN format) in this folder", path=str(data))
        train, test = read_lightgcn_split(data)
        return Dataset(data.name, train, test)
    everything = read_delimited(data)
    train, test = holdout_split(everything, 0.2, seed=0 if split_seed is None else split_seed)
    if len(test) == 0:
        raise MarginRankError("no user has two or more items, so the 80/20 split per user leaves nothing to test", path=str(data))
    return Dataset(data.stem, train, test)
