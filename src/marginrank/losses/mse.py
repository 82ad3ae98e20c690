"""Pointwise squared-error baseline."""

from __future__ import annotations

from torch import Tensor

from marginrank.losses.base import Reduction, RankingLoss, masked_mean


class MSE(RankingLoss):
    """Pointwise squared error: ``(s_p - 1)^2 / 2 + mean_j s_nj^2 / 2``.

    Regresses the positive to 1 and every negative to 0. Source: the RecBox ``MSELoss`` baseline
    used by SimpleX and MMCL, which *sums* over negatives; here the negatives are averaged (the
    issue's mean normalization), so the negative part does not grow with N.

    Args:
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the mean runs over the valid negatives; a row with none keeps only
    ``(s_p - 1)^2 / 2``.
    """

    def __init__(self, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None) -> Tensor:
        return 0.5 * (pos - 1).square() + 0.5 * masked_mean(neg.square(), mask)
