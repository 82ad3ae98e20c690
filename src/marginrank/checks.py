"""Argument checks shared across the package: a wrong type or range is a clear MarginRankError."""

from __future__ import annotations

import math
from collections.abc import Callable, Collection
from numbers import Integral, Real
from typing import TypeVar

from marginrank.errors import MarginRankError

T = TypeVar("T")


def require(condition: bool, message: str) -> None:
    """A MarginRankError with ``message`` unless ``condition``: for rules that tie several values together."""
    if not condition:
        raise MarginRankError(message)


def require_integer(name: str, value: object, minimum: int, maximum: int | None = None) -> int:
    """``value`` as an int >= ``minimum`` and, if given, <= ``maximum`` (numpy integers welcome, bools not)."""
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum or (maximum is not None and value > maximum):
        bounds = f">= {minimum}" if maximum is None else f"in {minimum} .. {maximum}"
        raise MarginRankError(f"{name} must be an integer {bounds}, got {value!r}")
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


def require_fraction(name: str, value: object, *, include_zero: bool = False) -> float:
    """``value`` as a float in (0, 1), or in [0, 1) with ``include_zero``: a ratio, rate or decay."""
    number = require_number(name, value)
    above_low = number >= 0 if include_zero else number > 0
    if not above_low or number >= 1:
        raise MarginRankError(f"{name} must be in {'[' if include_zero else '('}0, 1), got {value!r}")
    return number


def require_choice(name: str, value: object, choices: Collection[str]) -> str:
    """``value`` if it is one of ``choices`` (their order is the one the message lists)."""
    if value not in choices:
        raise MarginRankError(f"{name} must be one of {', '.join(choices)}; got {value!r}")
    return value


def require_optional(name: str, value: object, check: Callable[..., T], *args: object) -> T | None:
    """None if ``value`` is None (the setting is off), else ``check(name, value, *args)``."""
    return None if value is None else check(name, value, *args)
