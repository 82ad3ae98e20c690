"""The Interactions check shared by the splits and filters."""

from __future__ import annotations

from marginrank.data.interactions import Interactions
from marginrank.errors import MarginRankError


def require_interactions(value: object, function: str) -> Interactions:
    if not isinstance(value, Interactions):
        raise MarginRankError(
            f"{function} takes Interactions (see marginrank.data: read_delimited, from_dataframe, from_sparse), "
            f"got {type(value).__name__}"
        )
    return value
