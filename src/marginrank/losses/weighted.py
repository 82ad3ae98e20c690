"""Per-example weights on any ranking loss (graded gains in learning to rank)."""

from __future__ import annotations

import torch
from torch import Tensor

from marginrank.errors import MarginRankError
from marginrank.losses.base import Reduction, WeightingLoss

WEIGHT_KEYWORD = "example_weight"


class Weighted(WeightingLoss):
    """``sum_b w_b l_b / sum_b w_b`` (``"mean"``), ``sum_b w_b l_b`` (``"sum"``) or ``w_b l_b``
    (``"none"``), with ``l_b`` the base loss of example ``b``.

    Call ``loss(pos, neg, mask, example_weight=w)`` with ``w`` a float ``[B]`` of weights >= 0 (e.g.
    the gain ``2^rel - 1`` of each positive, as LambdaRank-style losses weigh pairs by their grades);
    keywords the base loss takes pass through.

    Args:
        base: the loss to weight; its own reduction is not used.
        reduction: ``"mean"`` (the weighted mean) | ``"sum"`` | ``"none"`` over the batch.
    """

    weight_keyword = WEIGHT_KEYWORD
    already_weighted = "the base loss is already weighted"

    def forward(
        self,
        pos_scores: Tensor,
        neg_scores: Tensor,
        neg_mask: Tensor | None = None,
        *,
        example_weight: Tensor | None = None,
        **base_keywords: Tensor | None,
    ) -> Tensor:
        weight = _checked_weight(example_weight, pos_scores)
        self.check_base_keywords(base_keywords)
        value = self._evaluate(pos_scores, neg_scores, neg_mask, example_weight=weight, **base_keywords)
        if self.reduction != "mean":
            return value
        return value / weight.mean().clamp_min(torch.finfo(weight.dtype).tiny)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None, example_weight: Tensor, **base_keywords) -> Tensor:
        return example_weight * self.base.per_example(pos, neg, mask, **base_keywords)


def _checked_weight(weight: object, pos: Tensor) -> Tensor:
    if weight is None:
        raise MarginRankError("Weighted needs example_weight=w, a float tensor [B] of weights >= 0")
    if not isinstance(weight, Tensor) or not weight.is_floating_point():
        raise MarginRankError("example_weight must be a float tensor [B] of weights >= 0")
    if weight.shape != pos.shape or weight.device != pos.device:
        raise MarginRankError(
            f"example_weight must have shape {list(pos.shape)} on {pos.device}; got {list(weight.shape)} on {weight.device}"
        )
    if not bool(torch.isfinite(weight).all()) or bool((weight < 0).any()):
        raise MarginRankError("example_weight must hold finite weights >= 0")
    return weight.to(pos.dtype).detach()
