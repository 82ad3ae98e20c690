"""Pointwise binary cross-entropy baseline."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from marginrank.losses.base import Reduction, RankingLoss, masked_mean


class BCE(RankingLoss):
    """Pointwise binary cross-entropy on scores as logits: ``softplus(-s_p) + mean_j softplus(s_nj)``.

    That is ``-log sigmoid(s_p) - mean_j log(1 - sigmoid(s_nj))``, written with ``softplus`` so it is
    finite for any score. Source: the RecBox ``SigmoidCrossEntropyLoss`` baseline, which sums
    ``BCEWithLogits`` over all B x (1+N) entries; here the negatives are averaged and the batch is
    reduced by ``reduction``, so the scale depends on neither B nor N.

    Args:
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the mean runs over the valid negatives; a row with none keeps only
    ``softplus(-s_p)``.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None) -> Tensor:
        return F.softplus(-pos) + masked_mean(F.softplus(neg), mask)
