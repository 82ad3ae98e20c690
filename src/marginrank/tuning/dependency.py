"""Optuna, the search engine behind :mod:`marginrank.tuning`: an optional dependency (the ``tune`` extra)."""

from __future__ import annotations

from types import ModuleType

from marginrank.errors import MarginRankError


def import_optuna() -> ModuleType:
    """The ``optuna`` module, or a :class:`MarginRankError` that names the extra to install."""
    try:
        import optuna
    except ImportError:
        raise MarginRankError("hyper-parameter search needs Optuna: pip install 'marginrank[tune]' (or optuna>=3.5)") from None
    return optuna
