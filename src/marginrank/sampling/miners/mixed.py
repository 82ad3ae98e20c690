"""Mixed mining: some hard negatives, some uniform ones from the rest of the pool."""

from __future__ import annotations

import torch

from marginrank.sampling.checks import non_negative_int, positive_int
from marginrank.sampling.miners.base import Miner, select_top
from marginrank.sampling.miners.random import RandomMiner


class MixedMiner(Miner):
    """``n_hard`` top-scored candidates, then ``n_uniform`` uniform ones among the other allowed candidates.

    The uniform part keeps easy negatives in every batch, which tempers the collapse risk of
    pure hard mining.  Output ``[B, n_hard + n_uniform]``, hard columns first.
    """

    def __init__(self, n_hard: int, n_uniform: int, seed: int | None = None) -> None:
        self.n_hard = non_negative_int("n_hard", n_hard)
        self._uniform = RandomMiner(positive_int("n_uniform", n_uniform), seed)
        self.num_negatives = self.n_hard + self._uniform.num_negatives

    def mine(
        self, scores: torch.Tensor, pos_scores: torch.Tensor | None, candidate_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        hard_idx, hard_valid = select_top(scores, self.n_hard, candidate_mask)
        remaining = torch.ones_like(scores, dtype=torch.bool) if candidate_mask is None else candidate_mask.clone()
        remaining.scatter_(1, hard_idx, False)
        easy_idx, easy_valid = self._uniform.mine(scores, pos_scores, remaining)
        return torch.cat([hard_idx, easy_idx], dim=1), torch.cat([hard_valid, easy_valid], dim=1)

    def manual_seed(self, seed: int) -> None:
        self._uniform.manual_seed(seed)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Generator state of the uniform part."""
        return self._uniform.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`."""
        self._uniform.load_state_dict(state)
