"""Pairwise hinge (margin ranking) loss, averaged over negatives."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_non_negative
from marginrank.losses.base import Reduction, RankingLoss, masked_mean


class PairwiseHinge(RankingLoss):
    """Pairwise hinge: ``mean_j relu(m + s_nj - s_p)``.

    Source: the margin ranking loss of Weston et al. (WSABIE, IJCAI 2011) and reczoo/RecBox
    ``PairwiseMarginLoss``. Every negative within ``m`` of the positive costs ``m + s_nj - s_p``:
    ``dJ/ds_p = -(violating count) / N`` and ``dJ/ds_nj = 1/N`` while violated, 0 once the margin is met.

    Unnormalized scores can satisfy it by scaling and can also drift to the trivial all-equal
    solution (see docs/losses.md); prefer cosine scores or a collapse guard.

    Args:
        margin: ``m`` [1.0] (>= 0).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the mean runs over the valid negatives; a row with none contributes 0.
    """

    def __init__(self, margin: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.margin = require_non_negative("margin", margin)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None) -> Tensor:
        return masked_mean(F.relu(self.margin + neg - pos.unsqueeze(1)), mask)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, {super().extra_repr()}"
