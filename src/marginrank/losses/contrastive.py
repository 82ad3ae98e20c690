"""Contrastive (pair) loss over scores: positives pulled above one margin, negatives pushed below another."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_number
from marginrank.losses.base import RankingLoss, check_scores


class Contrastive(RankingLoss):
    """Contrastive loss: ``avg_rows relu(m_p - s_p) + avg_{valid (row, j)} relu(s_nj - m_n)``, each
    average over the pairs with a positive loss (``nonzero=True``, PML's ``AvgNonZeroReducer``; 0
    when none has) or over all of them.

    Source: Hadsell, Chopra & LeCun, CVPR 2006, in the hinge form of pytorch-metric-learning's
    ``ContrastiveLoss``. Scores are higher-is-better, so PML's distance margins (``pos_margin=0``,
    ``neg_margin=1`` on ``d``) are ``pos_margin=-0.0``, ``neg_margin=-1.0`` here on ``s = -d``; with
    cosine scores PML's ``pos_margin``/``neg_margin`` carry over unchanged. It is :class:`CCL`'s
    form with a nonzero average in place of a weighted mean.

    In a label task a negative pair ``(a, n)`` appears once per positive of ``a``: the averages
    equal PML's (each pair once) when every anchor has as many positives, as in class-balanced batches.

    Args:
        pos_margin: ``m_p`` [1.0], the score above which a positive costs nothing.
        neg_margin: ``m_n`` [0.0], the score below which a negative costs nothing.
        nonzero: average each part over its active pairs only [True].
    """

    def __init__(self, pos_margin: float = 1.0, neg_margin: float = 0.0, nonzero: bool = True) -> None:
        super().__init__("mean")
        self.pos_margin = require_number("pos_margin", pos_margin)
        self.neg_margin = require_number("neg_margin", neg_margin)
        self.nonzero = bool(nonzero)

    def forward(self, pos_scores: Tensor, neg_scores: Tensor, neg_mask: Tensor | None = None) -> Tensor:
        check_scores(pos_scores, neg_scores, neg_mask)
        pos_losses = F.relu(self.pos_margin - pos_scores)
        neg_losses = F.relu(neg_scores - self.neg_margin)
        valid = torch.ones_like(neg_losses, dtype=torch.bool) if neg_mask is None else neg_mask
        neg_losses = torch.where(valid, neg_losses, torch.zeros((), dtype=neg_losses.dtype, device=neg_losses.device))
        return self._average(pos_losses, pos_losses.numel()) + self._average(neg_losses, valid.sum())

    def _average(self, losses: Tensor, count: int | Tensor) -> Tensor:
        count = (losses > 0).sum() if self.nonzero else torch.as_tensor(count)
        return losses.sum() / count.clamp_min(1).to(losses.dtype)

    def extra_repr(self) -> str:
        return f"pos_margin={self.pos_margin}, neg_margin={self.neg_margin}, nonzero={self.nonzero}"
