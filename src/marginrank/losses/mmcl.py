"""Multi-Margin Cosine Loss (MMCL)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_non_negative, require_number
from marginrank.errors import MarginRankError
from marginrank.losses.base import Reduction, RankingLoss, active_mean


class MMCL(RankingLoss):
    """Multi-Margin Cosine Loss:
    ``w_p * relu(1 - s_p) + w_n * (1/N) * sum_j sum_k w_k * relu(s_nj - m_k)``.

    Source: M. G. Ozsoy, "Multi-Margin Cosine Loss: Proposal and Application in Recommender Systems",
    arXiv 2405.04614; the form follows the author's code (github.com/mgulcin/mmcl,
    ``MultiCosineContrastiveLoss``): sum over the K margins, mean over the N negatives, one positive
    term. A negative above several margins is pushed with slope ``(w_n / N) * sum_{k: s > m_k} w_k``,
    so harder negatives are pushed harder. With one margin ``m``, weight 1 and ``pos_weight`` 1 it
    is exactly :class:`CCL` with ``neg_weight = w_n``.

    Args:
        margins: ``m_1..m_K`` [0.6, 0.7, 0.8, 0.9] (the paper's Yelp2018 setting).
        weights: ``w_1..w_K``, same length [0.05, 0.15, 0.2, 0.6].
        pos_weight: ``w_p`` [1.0].
        neg_weight: ``w_n`` [400]. Gowalla setting: margins [0.7, 0.8, 0.9], weights
            [0.10, 0.15, 0.75], neg_weight 700.
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the mean runs over the valid negatives of each row; a row with none keeps only
    ``w_p * relu(1 - s_p)``.

    Computation: ``sum_k w_k * relu(s - m_k)`` is piecewise linear in ``s``, so with the margins
    sorted it equals ``s * W(i) - C(i)``, where ``i`` is the number of margins strictly below ``s``
    (``torch.bucketize``), ``W(i)`` the sum of their weights and ``C(i)`` of their ``w_k * m_k``. That is
    computed only for the negatives above the lowest margin (one comparison over ``[B, N]``, then
    work on the few active entries; see ``active_mean``), and the gradient on a negative is exactly
    ``W(i)`` scaled by ``w_n / N``; a score exactly at a margin does not count that margin.

    Example:
        >>> import torch
        >>> from marginrank.losses import MMCL
        >>> loss = MMCL(margins=[0.5, 0.8], weights=[0.25, 0.75], neg_weight=10.0, reduction="none")
        >>> pos = torch.tensor([0.75])
        >>> neg = torch.tensor([[0.9, 0.6, 0.1, 0.0]])
        >>> # 0.25 + 10/4 * (0.25*0.4 + 0.75*0.1 + 0.25*0.1)
        >>> loss(pos, neg)
        tensor([0.7500])
    """

    def __init__(
        self,
        margins: Sequence[float] = (0.6, 0.7, 0.8, 0.9),
        weights: Sequence[float] = (0.05, 0.15, 0.2, 0.6),
        pos_weight: float = 1.0,
        neg_weight: float = 400.0,
        reduction: Reduction = "mean",
    ) -> None:
        super().__init__(reduction)
        margins, weights = _as_floats("margins", margins), _as_floats("weights", weights)
        if len(margins) != len(weights) or not margins:
            raise MarginRankError(
                f"margins and weights must be non-empty and of the same length; got {len(margins)} and {len(weights)}"
            )
        self.margins = tuple(require_number("margins", m) for m in margins)
        self.weights = tuple(require_non_negative("weights", w) for w in weights)
        order = sorted(range(len(self.margins)), key=self.margins.__getitem__)
        sorted_margins = torch.tensor([self.margins[k] for k in order], dtype=torch.float64)
        sorted_weights = torch.tensor([self.weights[k] for k in order], dtype=torch.float64)
        zero = torch.zeros(1, dtype=torch.float64)
        self.register_buffer("_sorted_margins", sorted_margins, persistent=False)
        self.register_buffer("_weight_below", torch.cat([zero, sorted_weights.cumsum(0)]), persistent=False)
        self.register_buffer(
            "_weighted_margin_below", torch.cat([zero, (sorted_weights * sorted_margins).cumsum(0)]), persistent=False
        )
        self.pos_weight = require_non_negative("pos_weight", pos_weight)
        self.neg_weight = require_non_negative("neg_weight", neg_weight)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None) -> Tensor:
        margins = self._sorted_margins.to(neg)
        slope, offset = self._weight_below.to(neg), self._weighted_margin_below.to(neg)

        def penalty(scores: Tensor) -> Tensor:
            below = torch.bucketize(scores.detach(), margins)  # margins strictly below s
            return scores * slope.index_select(0, below) - offset.index_select(0, below)

        lowest = self.margins[min(range(len(self.margins)), key=self.margins.__getitem__)]
        return self.pos_weight * F.relu(1 - pos) + self.neg_weight * active_mean(neg, lowest, mask, penalty)

    def extra_repr(self) -> str:
        return (
            f"margins={list(self.margins)}, weights={list(self.weights)}, pos_weight={self.pos_weight}, "
            f"neg_weight={self.neg_weight}, {super().extra_repr()}"
        )


def _as_floats(name: str, values: Sequence[float]) -> list[float]:
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        raise MarginRankError(f"{name} must be a list of numbers; got {values!r}")
    return list(values)
