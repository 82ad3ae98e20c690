"""Bayesian Personalized Ranking (BPR) loss over sampled negatives."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_positive
from marginrank.losses.base import Reduction, RankingLoss, masked_mean


class BPR(RankingLoss):
    """BPR: ``mean_j -log sigmoid((s_p - s_nj) / t)``, computed as ``softplus((s_nj - s_p) / t)``.

    Source: Rendle et al., "BPR: Bayesian Personalized Ranking from Implicit Feedback", UAI 2009
    (one negative); with N negatives it is averaged over them, as reczoo/RecBox
    ``PairwiseLogisticLoss``. ``softplus`` keeps it finite for any score gap (no ``log(eps + sigmoid)``).

    Args:
        temperature: ``t`` [1.0] (> 0); with cosine scores a smaller ``t`` sharpens the pairs.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the mean runs over the valid negatives; a row with none contributes 0.
    """

    def __init__(self, temperature: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.temperature = require_positive("temperature", temperature)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None) -> Tensor:
        return masked_mean(F.softplus((neg - pos.unsqueeze(1)) / self.temperature), mask)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, {super().extra_repr()}"
