"""Hard negatives: the highest-scored candidates of each user."""

from __future__ import annotations

import torch

from marginrank.sampling.checks import positive_int
from marginrank.sampling.miners.base import Miner, select_top


class HardNegativeMiner(Miner):
    """The ``k`` top-scored allowed candidates per row, highest first (ties: lower index first).

    Mining only the hardest negatives from the first step can collapse training (Schroff et al.,
    2015; Xu et al., 2022): wrap it in :class:`WarmupMiner` or mix it with :class:`MixedMiner`.

    >>> import torch
    >>> HardNegativeMiner(2)(torch.tensor([[0.1, 0.9, 0.5, 0.9]]))
    (tensor([[1, 3]]), tensor([[True, True]]))
    """

    def __init__(self, k: int) -> None:
        self.num_negatives = positive_int("k", k)

    def mine(
        self, scores: torch.Tensor, pos_scores: torch.Tensor | None, candidate_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return select_top(scores, self.num_negatives, candidate_mask)
