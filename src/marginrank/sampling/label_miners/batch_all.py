"""Batch-all: every triplet of the batch, or every one that violates the margin."""

from __future__ import annotations

from torch import Tensor

from marginrank.checks import require_non_negative, require_optional
from marginrank.sampling.label_miners.base import LabelMiner, Picks, all_pairs


class BatchAllMiner(LabelMiner):
    """Every anchor-positive pair with every different-label negative (Hermans et al. 2017,
    "batch all"); with ``margin``, only the negatives with ``s_p - s_n <= margin`` (the triplets
    a margin loss still pays for: PML's ``TripletMarginMiner(margin, "all")``, whose
    ``d_an - d_ap <= margin`` is this for ``s = -d``).

    >>> import torch
    >>> scores = torch.tensor([[1.0, 0.9, 0.2], [0.9, 1.0, 0.8], [0.2, 0.8, 1.0]])
    >>> BatchAllMiner(margin=0.5)(scores, torch.tensor([0, 0, 1]), torch.zeros(3, 1)).triplets()
    (tensor([1]), tensor([0]), tensor([2]))
    """

    def __init__(self, margin: float | None = None) -> None:
        self.margin = require_optional("margin", margin, require_non_negative)

    def mine(self, scores: Tensor, labels: Tensor, embeddings: Tensor) -> Picks:
        anchor, positive, different = all_pairs(labels)
        negatives = different[anchor]
        if self.margin is not None:
            negatives = negatives & (scores[anchor, positive][:, None] - scores[anchor] <= self.margin)
        return Picks(anchor, positive, negatives)
