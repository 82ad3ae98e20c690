"""Semi-hard negatives: scored below the positive, but within the margin of it."""

from __future__ import annotations

import torch

from marginrank.checks import require_positive
from marginrank.errors import MarginRankError
from marginrank.sampling.checks import positive_int
from marginrank.sampling.miners.base import Miner, select_top


class SemiHardMiner(Miner):
    """Candidates with ``s_p - margin < s_n < s_p`` (FaceNet's semi-hard band, Schroff et al., 2015).

    With scores (higher = more similar) this is the distance band ``d_p < d_n < d_p + margin``.
    ``num_negatives=None`` returns every band member, width = the largest band in the batch
    (at least 1), padded with ``valid=False``; an integer keeps the highest-scored ones in the band.
    Needs ``pos_scores``.

    >>> import torch
    >>> SemiHardMiner(0.5)(torch.tensor([[0.9, 0.7, 0.2, 0.6]]), torch.tensor([0.8]))
    (tensor([[1, 3]]), tensor([[True, True]]))
    """

    def __init__(self, margin: float, num_negatives: int | None = None) -> None:
        self.margin = require_positive("margin", margin)
        self.num_negatives = None if num_negatives is None else positive_int("num_negatives", num_negatives)

    def mine(
        self, scores: torch.Tensor, pos_scores: torch.Tensor | None, candidate_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if pos_scores is None:
            raise MarginRankError("SemiHardMiner needs pos_scores [B] to place the band")
        positive = pos_scores.unsqueeze(1)
        band = (scores > positive - self.margin) & (scores < positive)
        if candidate_mask is not None:
            band &= candidate_mask
        widest = int(band.sum(dim=1).max()) if len(band) else 0
        width = self.num_negatives or max(1, widest)
        return select_top(scores, width, band)
