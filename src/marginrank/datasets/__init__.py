"""Named datasets: ``load("gowalla" | "yelp2018" | "amazon-book" | "synthetic")``.

The LightGCN splits are read from ``root/<name>/{train,test}.txt`` where ``root`` is the argument,
else ``$MARGINRANK_DATA``, else ``~/.cache/marginrank`` (``$XDG_CACHE_HOME/marginrank``). Missing
files are downloaded from the LightGCN repository's raw files (base URL overridable with
``base_url`` or ``$MARGINRANK_DATA_URL``), checked against the published checksums and written
atomically.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from marginrank.data.dataset import Dataset
from marginrank.data.readers import read_lightgcn_split
from marginrank.datasets.download import download_verified, file_digest
from marginrank.datasets.synthetic import make_synthetic
from marginrank.errors import MarginRankError

DEFAULT_BASE_URL = "https://raw.githubusercontent.com/kuandeng/LightGCN/master/Data/"


@dataclass(frozen=True)
class SplitFiles:
    """Checksums of one LightGCN split: ``{file name: (algorithm, hex digest)}``."""

    folder: str
    checksums: dict[str, tuple[str, str]]


LIGHTGCN_SPLITS: dict[str, SplitFiles] = {
    "gowalla": SplitFiles(
        "gowalla",
        {
            "train.txt": ("sha256", "7244696fdeb23911319cf7b689f2e15a3c4c92549c873a5677b44e3f13cc3e62"),
            "test.txt": ("sha256", "099a2a73924e4b754dc6efd730d764f492321b53c38eb93298850c83acf57be3"),
        },
    ),
    "yelp2018": SplitFiles(
        "yelp2018",
        {
            "train.txt": ("sha256", "1e9568725a9e833d0ac3bae01c94cd95367f73b3bb6104fd26b5f65ea5054093"),
            "test.txt": ("sha256", "9cd9b37926cd1447a06625ffa7914527573fb097c10cb0bbdb1d1b8ded3742fe"),
        },
    ),
    # Only an md5 is published for Amazon-Book's train.txt (reczoo/Datasets README).
    "amazon-book": SplitFiles(
        "amazon-book",
        {
            "train.txt": ("md5", "c916ecac04ca72300a016228258b41ed"),
            "test.txt": ("sha256", "6250754994dd953b91b48dccdd77a73f318e0634b4757c2abfcc9d33a54ab0f5"),
        },
    ),
}

NAMES = ("synthetic", *LIGHTGCN_SPLITS)


def default_root() -> Path:
    if os.environ.get("MARGINRANK_DATA"):
        return Path(os.environ["MARGINRANK_DATA"])
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "marginrank"


def load(
    name: str,
    root: str | os.PathLike | None = None,
    *,
    download: bool = True,
    base_url: str | None = None,
    verify: bool = False,
    **synthetic_options,
) -> Dataset:
    """Load a named dataset. ``synthetic`` takes the options of :func:`make_synthetic`.

    Files already present are used as they are (``verify=True`` re-checks their checksums).
    """
    if name == "synthetic":
        return make_synthetic(**synthetic_options)
    if name not in LIGHTGCN_SPLITS:
        raise MarginRankError(f"unknown dataset {name!r}; known: {', '.join(NAMES)}")
    if synthetic_options:
        raise MarginRankError(f"options {sorted(synthetic_options)} apply only to the synthetic dataset")
    split = LIGHTGCN_SPLITS[name]
    folder = Path(root) if root is not None else default_root()
    folder = folder / split.folder
    base = (base_url or os.environ.get("MARGINRANK_DATA_URL") or DEFAULT_BASE_URL).rstrip("/") + "/"
    for file_name, (algorithm, expected) in split.checksums.items():
        path = folder / file_name
        if not path.exists():
            if not download:
                raise MarginRankError(f"{path} is missing and download=False")
            download_verified(f"{base}{split.folder}/{file_name}", path, algorithm, expected)
        elif verify and file_digest(path, algorithm) != expected:
            raise MarginRankError(f"{algorithm} checksum of {path} does not match the published one")
    train, test = read_lightgcn_split(folder)
    return Dataset(name, train, test)


__all__ = ["LIGHTGCN_SPLITS", "NAMES", "default_root", "load", "make_synthetic"]
