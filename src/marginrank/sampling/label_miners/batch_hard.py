"""Batch-hard: per anchor, its hardest positive and hardest negative in the batch."""

from __future__ import annotations

import torch
from torch import Tensor

from marginrank.sampling.label_miners.base import LabelMiner, Picks, label_masks


class BatchHardMiner(LabelMiner):
    """One triplet per anchor: the least similar same-label sample and the most similar
    different-label one (Hermans, Beyer & Leibe, "In Defense of the Triplet Loss", 2017; PML's
    ``BatchHardMiner``). Ties go to the lowest index; anchors without a positive or a negative
    in the batch are left out.

    Hardest negatives on an untrained encoder are near-random, and pulling every anchor's farthest
    positive in while pushing its nearest negative out can pull all embeddings to one point (see
    docs/metric-learning.md): warm up with :class:`BatchAllMiner`, mine semi-hard, or normalize.
    """

    def mine(self, scores: Tensor, labels: Tensor, embeddings: Tensor) -> Picks:
        same, different = label_masks(labels)
        inf = torch.tensor(float("inf"), dtype=scores.dtype, device=scores.device)
        positive = torch.where(same, scores, inf).argmin(dim=1)
        negative = torch.where(different, scores, -inf).argmax(dim=1)
        kept = (same.any(dim=1) & different.any(dim=1)).nonzero().squeeze(1)
        negatives = torch.zeros(len(kept), len(labels), dtype=torch.bool, device=scores.device)
        negatives[torch.arange(len(kept), device=scores.device), negative[kept]] = True
        return Picks(kept, positive[kept], negatives)
