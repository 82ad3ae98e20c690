"""Uniformly random negatives from the candidate pool (the easy half of a mixed strategy)."""

from __future__ import annotations

import torch

from marginrank.sampling.checks import positive_int
from marginrank.sampling.miners.base import Miner, select_top
from marginrank.sampling.rng import SeededRandom


class RandomMiner(SeededRandom, Miner):
    """``num_negatives`` allowed candidates per row, uniformly without replacement (scores unused).

    The top-k of i.i.d. uniform keys is a uniform random subset.
    """

    def __init__(self, num_negatives: int, seed: int | None = None) -> None:
        super().__init__(seed)
        self.num_negatives = positive_int("num_negatives", num_negatives)

    def manual_seed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    def mine(
        self, scores: torch.Tensor, pos_scores: torch.Tensor | None, candidate_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        keys = torch.rand(scores.shape, generator=self.generator, dtype=torch.float64)
        return select_top(keys, self.num_negatives, candidate_mask)
