"""Triplet margin loss over scores, averaged over the triplets that cost something."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_non_negative
from marginrank.losses.base import RankingLoss, check_scores


class TripletMargin(RankingLoss):
    """Triplet margin loss: ``relu(m + s_n - s_p)`` for every valid (row, negative) triplet, averaged
    over the triplets with a positive loss (``nonzero=True``, PML's default ``AvgNonZeroReducer``;
    0 when none has) or over every valid triplet.

    Source: Schroff et al., "FaceNet", CVPR 2015; the reduction is that of pytorch-metric-learning's
    ``TripletMarginLoss``. With ``s = -d`` (``similarity="euclidean"``) it is PML's
    ``relu(d_ap - d_an + m)``. Unlike :class:`PairwiseHinge` (a mean per row, then over rows), every
    triplet weighs the same, and a batch where few triplets are still active keeps a full gradient.

    Args:
        margin: ``m`` [0.05, PML's default] (>= 0).
        nonzero: average over the active triplets only [True].

    Output: a scalar (the average is over triplets, so there is no per-row reduction).

    Example:
        >>> import torch
        >>> pos = torch.tensor([0.5, 0.0])
        >>> neg = torch.tensor([[0.0, 0.9], [-1.0, -1.0]])
        >>> TripletMargin(margin=0.2)(pos, neg)        # (0.0 + 0.6) over 1 active triplet
        tensor(0.6000)
        >>> TripletMargin(margin=0.2, nonzero=False)(pos, neg)
        tensor(0.1500)
    """

    def __init__(self, margin: float = 0.05, nonzero: bool = True) -> None:
        super().__init__("mean")
        self.margin = require_non_negative("margin", margin)
        self.nonzero = bool(nonzero)

    def forward(self, pos_scores: Tensor, neg_scores: Tensor, neg_mask: Tensor | None = None) -> Tensor:
        check_scores(pos_scores, neg_scores, neg_mask)
        losses = F.relu(self.margin + neg_scores - pos_scores.unsqueeze(1))
        if neg_mask is not None:
            losses = torch.where(neg_mask, losses, torch.zeros((), dtype=losses.dtype, device=losses.device))
        count = (losses > 0).sum() if self.nonzero else (losses.numel() if neg_mask is None else neg_mask.sum())
        return losses.sum() / torch.as_tensor(count).clamp_min(1).to(losses.dtype)

    def extra_repr(self) -> str:
        return f"margin={self.margin}, nonzero={self.nonzero}"
