"""Writers back to the two file formats the readers take; every write is atomic."""

from __future__ import annotations

import os

import numpy as np

from marginrank.atomic import atomic_open
from marginrank.data.interactions import Interactions


def write_lightgcn(interactions: Interactions, path: str | os.PathLike) -> None:
    """One line per user with interactions: ``user item item ...`` in raw ids (which must be ints)."""
    indptr = np.concatenate([[0], np.cumsum(interactions.user_counts())])
    user_ids = interactions.user_ids
    item_ids = interactions.item_ids[interactions.items]
    with atomic_open(path) as handle:
        for user in np.flatnonzero(np.diff(indptr)):
            row = item_ids[indptr[user] : indptr[user + 1]]
            handle.write(f"{user_ids[user]} {' '.join(map(str, row.tolist()))}\n")


def write_delimited(
    interactions: Interactions, path: str | os.PathLike, *, delimiter: str = ",", header: bool = True
) -> None:
    """Rows ``user,item[,rating[,timestamp]]`` in raw ids; columns present in the data are written."""
    columns = [interactions.user_ids[interactions.users], interactions.item_ids[interactions.items]]
    names = ["user", "item"]
    if interactions.ratings is not None or interactions.timestamps is not None:
        columns.append(interactions.ratings if interactions.ratings is not None else np.ones(len(interactions)))
        names.append("rating")
    if interactions.timestamps is not None:
        columns.append(interactions.timestamps)
        names.append("timestamp")
    text_columns = [[_format(value) for value in column.tolist()] for column in columns]
    with atomic_open(path) as handle:
        if header:
            handle.write(delimiter.join(names) + "\n")
        for row in zip(*text_columns):
            handle.write(delimiter.join(row) + "\n")


def _format(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
