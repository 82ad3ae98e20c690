"""Argument checks shared by the splits and filters: a wrong type or range is a clear error."""

from __future__ import annotations

import math
from numbers import Integral, Real

from marginrank.data.interactions import Interactions
from marginrank.errors import MarginRankError


def require_interactions(value: object, function: str) -> Interactions:
    if not isinstance(value, Interactions):
        raise MarginRankError(
            f"{function} takes Interactions (see marginrank.data: read_delimited, from_dataframe, from_sparse), "
            f"got {type(value).__name__}"
        )
    return value


def require_integer(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise MarginRankError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def require_number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise MarginRankError(f"{name} must be a finite number, got {value!r}")
    return float(value)
