"""Top-K quantile weighting of any ranking loss (the weight of SL@K)."""

from __future__ import annotations

import torch
from torch import Tensor

from marginrank.checks import require_positive
from marginrank.errors import MarginRankError
from marginrank.losses.base import RankingLoss, Reduction, WeightingLoss

THRESHOLD_KEYWORD = "pos_threshold"


class TopKWeighted(WeightingLoss):
    """``sigmoid((s_p - beta_u) / t_w) * base(s_p, s_n)`` per example.

    Source: Yang et al., "Breaking the Top-K Barrier: Advancing Top-K Ranking Metrics Optimization
    in Recommender Systems", KDD 2025, eq. (3.5). ``beta_u`` is the score of user u's K-th ranked
    item (estimated by :class:`marginrank.training.TopKQuantile`), so positives already near the top
    K weigh more than positives far below it. With ``base = SampledSoftmax(t_d)`` this is SL@K; the
    paper's SL term sums over the sampled negatives only, ``log sum_j exp((s_j - s_p)/t_d)``, where
    ours also counts the positive, ``log(1 + sum_j ...)``. Any other loss can take the weight.

    The weight is part of the loss, not a constant: ``d/ds_p = w * dbase/ds_p + w (1 - w) / t_w * base``
    (the paper's gradient, its appendix B.3).

    Call ``loss(pos, neg, mask, pos_threshold=beta)`` with ``beta`` a float ``[B]`` (each example's
    user's threshold); keywords the base loss takes (``pos_groups``, ``neg_log_prob``) pass through.

    Args:
        base: the loss to weight; its own reduction is not used.
        weight_temperature: ``t_w`` [1.0] (> 0; the paper searches 0.5-3, 1 on Gowalla MF).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.
    """

    weight_keyword = THRESHOLD_KEYWORD
    already_weighted = "the base loss is already top-K weighted"

    def __init__(self, base: RankingLoss, weight_temperature: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(base, reduction)
        self.weight_temperature = require_positive("weight_temperature", weight_temperature)

    def forward(
        self,
        pos_scores: Tensor,
        neg_scores: Tensor,
        neg_mask: Tensor | None = None,
        *,
        pos_threshold: Tensor | None = None,
        **base_keywords: Tensor | None,
    ) -> Tensor:
        if pos_threshold is None:
            raise MarginRankError(
                "TopKWeighted needs pos_threshold=beta, each example's top-K score threshold [B] "
                "(marginrank.training.TopKQuantile estimates it)"
            )
        self.check_base_keywords(base_keywords)
        return self._evaluate(pos_scores, neg_scores, neg_mask, pos_threshold=pos_threshold, **base_keywords)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None, pos_threshold: Tensor, **base_keywords) -> Tensor:
        threshold = _checked_threshold(pos_threshold, pos)
        weight = torch.sigmoid((pos - threshold) / self.weight_temperature)
        return weight * self.base.per_example(pos, neg, mask, **base_keywords)

    def extra_repr(self) -> str:
        return f"weight_temperature={self.weight_temperature}, {super().extra_repr()}"


def _checked_threshold(threshold: object, pos: Tensor) -> Tensor:
    if not isinstance(threshold, Tensor) or not threshold.is_floating_point():
        raise MarginRankError("pos_threshold must be a float tensor [B] (each example's top-K score threshold)")
    if threshold.shape != pos.shape or threshold.device != pos.device:
        raise MarginRankError(
            f"pos_threshold must have shape {list(pos.shape)} on {pos.device}; "
            f"got {list(threshold.shape)} on {threshold.device}"
        )
    if not bool(torch.isfinite(threshold).all()):
        raise MarginRankError("pos_threshold holds a value that is not finite")
    return threshold.to(pos.dtype).detach()
