"""Label miners by name, for :class:`~marginrank.metric_learner.MetricLearner` and the CLI."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from marginrank.sampling.label_miners.base import LabelMiner
from marginrank.sampling.label_miners.batch_all import BatchAllMiner
from marginrank.sampling.label_miners.batch_hard import BatchHardMiner
from marginrank.sampling.label_miners.distance_weighted import DistanceWeightedMiner
from marginrank.sampling.label_miners.per_pair import PerPairMiner
from marginrank.sampling.miners import HardNegativeMiner, SemiHardMiner, WarmupMiner
from marginrank.sampling.miners.registry import build

LABEL_MINERS: dict[str, tuple[Callable[..., LabelMiner], dict[str, Any]]] = {
    "batch-all": (lambda seed, margin: BatchAllMiner(margin), {"margin": None}),
    "batch-hard": (lambda seed: BatchHardMiner(), {}),
    "hardest": (lambda seed: PerPairMiner(HardNegativeMiner(1)), {}),
    "semi-hard": (lambda seed, margin: PerPairMiner(SemiHardMiner(margin)), {"margin": 0.2}),
    "warmup-hardest": (
        lambda seed, warmup_epochs: PerPairMiner(WarmupMiner(HardNegativeMiner(1), warmup_epochs, seed)),
        {"warmup_epochs": 5},
    ),
    "distance-weighted": (
        lambda seed, cutoff, nonzero_loss_cutoff: DistanceWeightedMiner(cutoff, nonzero_loss_cutoff, seed),
        {"cutoff": 0.5, "nonzero_loss_cutoff": 1.4},
    ),
}


def available() -> list[str]:
    return sorted(LABEL_MINERS)


def get(name: str, *, seed: int | None = None, **params: Any) -> LabelMiner:
    """Label miner ``name`` with its defaults updated by ``params``, e.g. ``get("semi-hard", margin=0.1)``."""
    return build("label miner", LABEL_MINERS, name, seed, params)
