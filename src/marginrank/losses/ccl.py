"""Cosine Contrastive Loss (CCL) of SimpleX."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_non_negative, require_number
from marginrank.losses.base import Reduction, RankingLoss, active_mean


class CCL(RankingLoss):
    """Cosine Contrastive Loss: ``relu(1 - s_p) + w * mean_j relu(s_nj - m)``.

    Source: Mao et al., "SimpleX: A Simple and Strong Baseline for Collaborative Filtering", CIKM 2021
    (arXiv 2109.12613); the form is that of reczoo/RecBox ``CosineContrastiveLoss`` with
    ``negative_weight`` set. Scores are meant to be cosines; the positive is pulled to 1 and every
    negative above the margin ``m`` is pushed down with slope ``w / N``.

    Args:
        margin: ``m`` [0.9], the cosine below which a negative costs nothing.
        neg_weight: ``w`` [150], the weight of the mean over negatives (SimpleX MF runs use 150).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the mean runs over the valid negatives of each row; a row with none keeps only
    ``relu(1 - s_p)``.
    """

    def __init__(self, margin: float = 0.9, neg_weight: float = 150.0, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.margin = require_number("margin", margin)
        self.neg_weight = require_non_negative("neg_weight", neg_weight)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None) -> Tensor:
        return F.relu(1 - pos) + self.neg_weight * active_mean(neg, self.margin, mask, lambda s: s - self.margin)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, neg_weight={self.neg_weight}, {super().extra_repr()}"
