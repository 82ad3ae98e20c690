"""Miners by name, for ``Recommender(miner=...)``, the CLI and config files.

Each name has default parameters sized for a candidate pool of tens to hundreds of items; the
``miner_params`` setting overrides them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from marginrank.errors import MarginRankError
from marginrank.sampling.miners.base import Miner
from marginrank.sampling.miners.hard import HardNegativeMiner
from marginrank.sampling.miners.mixed import MixedMiner
from marginrank.sampling.miners.semi_hard import SemiHardMiner
from marginrank.sampling.miners.warmup import WarmupMiner

T = TypeVar("T")

MINERS: dict[str, tuple[Callable[..., Miner], dict[str, Any]]] = {
    "hard": (lambda seed, k: HardNegativeMiner(k), {"k": 10}),
    "semi-hard": (lambda seed, margin, num_negatives: SemiHardMiner(margin, num_negatives), {"margin": 0.1, "num_negatives": 10}),
    "mixed": (lambda seed, n_hard, n_uniform: MixedMiner(n_hard, n_uniform, seed), {"n_hard": 5, "n_uniform": 5}),
    "warmup": (lambda seed, k, warmup_epochs: WarmupMiner(HardNegativeMiner(k), warmup_epochs, seed), {"k": 10, "warmup_epochs": 1}),
}


def available() -> list[str]:
    return sorted(MINERS)


def get(name: str, *, seed: int | None = None, **params: Any) -> Miner:
    """Miner ``name`` with its default parameters updated by ``params``, e.g. ``get("hard", k=20)``.

    >>> get("mixed", n_hard=2).num_negatives
    7
    """
    return build("miner", MINERS, name, seed, params)


def build(kind: str, table: dict[str, tuple[Callable[..., T], dict[str, Any]]], name: str, seed: int | None,
          params: dict[str, Any]) -> T:
    """``table[name]``'s maker called with ``seed`` and its defaults updated by ``params``; an unknown
    name or parameter is a :class:`MarginRankError` naming what ``kind`` accepts."""
    if name not in table:
        raise MarginRankError(f"unknown {kind} {name!r}; choose one of: {', '.join(sorted(table))}")
    make, defaults = table[name]
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise MarginRankError(f"{kind} {name!r} has no parameter {', '.join(unknown)}; it accepts: {', '.join(defaults) or 'none'}")
    return make(seed, **{**defaults, **params})
