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

    With raw Euclidean embeddings and large SGD steps the triplet loss on these picks pulls all
    embeddings to one point, the loss at the margin (see docs/metric-learning.md): on digits,
    normalized embeddings or MMCL over labels prevent it, a warm-up does not.
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
