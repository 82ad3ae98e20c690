"""Warm-up: uniform negatives for the first epochs, then the wrapped (hard) miner."""

from __future__ import annotations

import torch

from marginrank.errors import MarginRankError
from marginrank.sampling.checks import non_negative_int
from marginrank.sampling.miners.base import Miner
from marginrank.sampling.miners.random import RandomMiner


class WarmupMiner(Miner):
    """Uniform candidates (as many as ``miner`` returns) while ``epoch < warmup_epochs``, then ``miner``.

    Hardest-negative mining on an untrained model picks near-random "hard" items with large
    gradients and can collapse embeddings early; starting uniform avoids it.  The trainer calls
    ``set_epoch(epoch)`` (0-based) at the start of each epoch, as with PyTorch's ``DistributedSampler``.
    """

    def __init__(self, miner: Miner, warmup_epochs: int, seed: int | None = None) -> None:
        if miner.num_negatives is None:
            raise MarginRankError("WarmupMiner needs a miner with a fixed num_negatives (e.g. SemiHardMiner(m, n))")
        self.miner = miner
        self.warmup_epochs = non_negative_int("warmup_epochs", warmup_epochs)
        self.num_negatives = miner.num_negatives
        self._uniform = RandomMiner(miner.num_negatives, seed)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """The 0-based epoch about to run."""
        self.epoch = int(epoch)

    @property
    def warming_up(self) -> bool:
        """True while negatives are uniform."""
        return self.epoch < self.warmup_epochs

    def mine(
        self, scores: torch.Tensor, pos_scores: torch.Tensor | None, candidate_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        active = self._uniform if self.warming_up else self.miner
        return active.mine(scores, pos_scores, candidate_mask)

    def manual_seed(self, seed: int) -> None:
        self._uniform.manual_seed(seed)

    def state_dict(self) -> dict[str, torch.Tensor]:
        """Generator state of the uniform phase."""
        return self._uniform.state_dict()

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore :meth:`state_dict`."""
        self._uniform.load_state_dict(state)
