"""Multi-similarity loss (Wang et al. 2019) over the scores of each anchor's positives and negatives."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from marginrank.checks import require_number, require_positive
from marginrank.errors import MarginRankError
from marginrank.losses.base import RankingLoss, check_scores


class MultiSimilarity(RankingLoss):
    """Multi-similarity loss, per anchor ``a``:
    ``(1/alpha) log(1 + sum_p e^{-alpha (s_ap - base)}) + (1/beta) log(1 + sum_n e^{beta (s_an - base)})``,
    averaged over anchors.

    Source: Wang et al., "Multi-Similarity Loss with General Pair Weighting for Deep Metric
    Learning", CVPR 2019, eq. 8 (without its pair mining); the form and defaults of
    pytorch-metric-learning's ``MultiSimilarityLoss`` (cosine scores).

    Rows are anchor-positive pairs; ``pos_groups`` (int ``[B]``, e.g. the anchor's batch position)
    says which rows share an anchor: their positives enter one sum, and the anchor's negative term is
    the mean of its rows' (one value when they share their negatives, as without a miner). Without
    ``pos_groups`` every row is its own anchor. A row without a valid negative has a zero negative term.

    With ``pos_mask`` (bool ``[B, N]``) every row is an anchor whose scores over the batch are
    ``neg_scores``: its positives are the columns ``pos_mask`` marks, its negatives those
    ``neg_mask`` marks, and ``pos_scores`` is not read (the label task's ``per_anchor`` layout,
    PML's ``[B, B]`` form); the average runs over the rows with a positive.

    Args:
        alpha: ``alpha`` [2.0], beta: ``beta`` [50.0], base: ``base`` [0.5].

    Output: a scalar.
    """

    keywords = frozenset({"pos_groups", "pos_mask"})

    def __init__(self, alpha: float = 2.0, beta: float = 50.0, base: float = 0.5) -> None:
        super().__init__("mean")
        self.alpha = require_positive("alpha", alpha)
        self.beta = require_positive("beta", beta)
        self.base = require_number("base", base)

    def forward(
        self, pos_scores: Tensor, neg_scores: Tensor, neg_mask: Tensor | None = None, *,
        pos_groups: Tensor | None = None, pos_mask: Tensor | None = None,
    ) -> Tensor:
        check_scores(pos_scores, neg_scores, neg_mask)
        neg_terms = _log1p_sum_exp(_masked(self.beta * (neg_scores - self.base), neg_mask)) / self.beta
        if pos_mask is not None:
            if pos_groups is not None:
                raise MarginRankError("give pos_groups (rows are anchor-positive pairs) or pos_mask (rows are anchors), not both")
            if not isinstance(pos_mask, Tensor) or pos_mask.dtype != torch.bool or pos_mask.shape != neg_scores.shape:
                raise MarginRankError(f"pos_mask must be a bool tensor of neg_scores' shape {list(neg_scores.shape)} (each row's positives)")
            pos_terms = _log1p_sum_exp(_masked(-self.alpha * (neg_scores - self.base), pos_mask)) / self.alpha
            has_positive = pos_mask.any(dim=1)
            return torch.where(has_positive, pos_terms + neg_terms, 0.0).sum() / has_positive.sum().clamp_min(1)
        groups = _checked_groups(pos_groups, pos_scores)
        rows_per_group = torch.bincount(groups).to(pos_scores.dtype)  # ids without rows add 0 below
        neg_per_group = torch.zeros_like(rows_per_group).index_add(0, groups, neg_terms) / rows_per_group.clamp_min(1)
        pos_logits = -self.alpha * (pos_scores - self.base)
        shift = torch.zeros_like(rows_per_group).scatter_reduce(0, groups, pos_logits.detach(), "amax", include_self=True)
        sums = (-shift).exp().index_add(0, groups, (pos_logits - shift[groups]).exp())
        pos_per_group = (shift + sums.log()) / self.alpha
        return (pos_per_group + neg_per_group).sum() / (rows_per_group > 0).sum()

    def extra_repr(self) -> str:
        return f"alpha={self.alpha}, beta={self.beta}, base={self.base}"


def _masked(logits: Tensor, mask: Tensor | None) -> Tensor:
    """``logits`` with the entries outside ``mask`` at ``-inf`` (they drop out of :func:`_log1p_sum_exp`)."""
    if mask is None:
        return logits
    return torch.where(mask, logits, torch.full((), -math.inf, dtype=logits.dtype, device=logits.device))


def _log1p_sum_exp(logits: Tensor) -> Tensor:
    """``log(1 + sum_j exp(x_j))`` per row of ``[R, N]``, stable; ``-inf`` entries drop out (a row of them gives 0)."""
    shift = logits.detach().amax(dim=1).clamp_min(0.0)
    return shift + ((-shift).exp() + (logits - shift[:, None]).exp().sum(dim=1)).log()


def _checked_groups(pos_groups: Tensor | None, pos: Tensor) -> Tensor:
    """The rows' group ids, non-negative integers (each row its own group without ``pos_groups``)."""
    if pos_groups is None:
        return torch.arange(len(pos), device=pos.device)
    if not isinstance(pos_groups, Tensor) or pos_groups.is_floating_point() or pos_groups.shape != pos.shape:
        raise MarginRankError(f"pos_groups must be an integer tensor of shape {list(pos.shape)} (the anchor of each row)")
    if bool((pos_groups < 0).any()):
        raise MarginRankError("pos_groups must be non-negative ids (e.g. the anchors' batch positions)")
    return pos_groups.to(device=pos.device, dtype=torch.int64)
