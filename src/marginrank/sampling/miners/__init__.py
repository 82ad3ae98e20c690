"""Miners: choose negatives from a scored candidate pool (indices into the pool + validity mask)."""

from marginrank.sampling.miners.base import Miner, select_top
from marginrank.sampling.miners.hard import HardNegativeMiner
from marginrank.sampling.miners.mixed import MixedMiner
from marginrank.sampling.miners.random import RandomMiner
from marginrank.sampling.miners.registry import MINERS
from marginrank.sampling.miners.semi_hard import SemiHardMiner
from marginrank.sampling.miners.warmup import WarmupMiner

__all__ = ["HardNegativeMiner", "MINERS", "Miner", "MixedMiner", "RandomMiner", "SemiHardMiner", "WarmupMiner", "select_top"]
