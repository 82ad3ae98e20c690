"""Negative sampling and hard-negative mining.

Samplers return item ids (``[B, N]`` per example or ``[N]`` shared); miners return positions in a
scored candidate pool plus a ``neg_mask`` (True = valid negative) that the losses accept.
"""

from marginrank.sampling.base import NegativeSampler
from marginrank.sampling.in_batch import InBatchNegatives
from marginrank.sampling.membership import Membership
from marginrank.sampling.miners import (
    HardNegativeMiner,
    Miner,
    MixedMiner,
    RandomMiner,
    SemiHardMiner,
    WarmupMiner,
)
from marginrank.sampling.popularity import PopularitySampler, item_counts
from marginrank.sampling.uniform import UniformSampler

__all__ = [
    "HardNegativeMiner",
    "InBatchNegatives",
    "Membership",
    "Miner",
    "MixedMiner",
    "NegativeSampler",
    "PopularitySampler",
    "RandomMiner",
    "SemiHardMiner",
    "UniformSampler",
    "WarmupMiner",
    "item_counts",
]
