"""Argument checks shared across the package: a wrong type or range is a clear MarginRankError."""

from __future__ import annotations

import math
from collections.abc import Collection
from numbers import Integral, Real

from marginrank.errors import MarginRankError


def require_integer(name: str, value: object, minimum: int) -> int:
    """``value`` as an int >= ``minimum`` (numpy integers welcome, bools not)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise MarginRankError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def require_number(name: str, value: object) -> float:
    """``value`` as a finite float (numpy numbers welcome, bools and text not)."""
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise MarginRankError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def require_positive(name: str, value: object) -> float:
    """``value`` as a finite float > 0."""
    number = require_number(name, value)
    if number <= 0:
        raise MarginRankError(f"{name} must be > 0, got {value!r}")
    return number


def require_non_negative(name: str, value: object) -> float:
    """``value`` as a finite float >= 0."""
    number = require_number(name, value)
    if number < 0:
        raise MarginRankError(f"{name} must be >= 0, got {value!r}")
    return number


def require_choice(name: str, value: object, choices: Collection[str]) -> str:
    """``value`` if it is one of ``choices`` (their order is the one the message lists)."""
    if value not in choices:
        raise MarginRankError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value
