"""Bilateral Softmax Loss (BSL)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from marginrank.checks import require_positive
from marginrank.errors import MarginRankError
from marginrank.losses.base import (
    Reduction,
    RankingLoss,
    checked_log_prob,
    masked_log_mean_exp,
    masked_logsumexp,
    valid_count,
)


class BSL(RankingLoss):
    """Bilateral Softmax Loss:
    ``-log mean_{k in G(b)} exp(s_pk/t1) + t2 * log mean_j exp(s_nj/t1)``.

    Source: Wu, Chen, Wu, Shi, Zhang, Wang, "BSL: Understanding and Improving Softmax Loss for
    Recommendation", ICDE 2024 (arXiv 2312.12882). Checked against the authors' code
    (github.com/junkangwu/BSL ``utils/losses.py``, class ``BSL``, ``mode="multi"``, the mode of
    their MF Yelp2018 / Gowalla runs): the positive side applies the same log-mean-exp as the
    negative side, over all positives of the same user in the batch, ``G(b)``; the negative side is
    the mean (not the sum) over negatives raised to the power ``t2``.

    What is implemented, exactly:
        - Without ``pos_groups`` every row is its own group, so the positive term is ``-s_p/t1`` and
          the loss is the README form ``-log(exp(s_p/t1) / (sum_j exp(s_nj/t1))^t2)`` minus the
          constant ``t2 * log N`` (mean instead of sum: same gradients, a value that does not grow
          with N). ``t2 = 1`` is then the sampled softmax without the positive in the denominator.
        - ``loss(pos, neg, mask, pos_groups=user_ids)`` (int ``[B]``) averages ``exp(s_p/t1)`` over
          the rows that share a group id, as the authors' code does with the batch's user ids.
        - ``loss(pos, neg, mask, neg_log_prob=log_q)`` (log-Q correction, for popularity-biased
          negatives): ``log q_j`` is the log probability that one draw returns negative j,
          broadcastable to ``[B, N]``. The negative mean becomes the self-normalised importance
          estimate of the mean over the whole catalogue,
          ``log( sum_j exp(s_nj/t1) / q_j  /  sum_j 1 / q_j )`` (Bengio & Senecal, IEEE TNN 2008),
          which is the plain mean when ``q`` is uniform and needs no catalogue size.
        Both sides use logsumexp, so large N and small ``t1`` do not overflow.

        - ``sum_negatives=True`` adds that constant back, ``t2 * log N_b`` (``N_b`` the row's valid
          negatives): the README form. Gradients are unchanged; the value matters where it is used
          itself, as :class:`~marginrank.losses.TopKWeighted`'s weight gradient uses it (SL@K's SL
          term is a sum, positive for any score).

    Args:
        tau1: ``t1`` [0.11], the temperature of both sides (Yelp2018; Gowalla 0.08).
        tau2: ``t2`` [1.10], the power on the negative side (Yelp2018; Gowalla 1.22).
        sum_negatives: sum over the negatives instead of the mean [False, the authors' MF runs].
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the mean runs over the valid negatives; a row with none keeps only its
    positive term ``-log mean exp(s_p/t1)`` (finite, not bounded below as ``s_p`` grows).
    """

    def __init__(
        self, tau1: float = 0.11, tau2: float = 1.10, sum_negatives: bool = False, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(reduction)
        self.tau1 = require_positive("tau1", tau1)
        self.tau2 = require_positive("tau2", tau2)
        if not isinstance(sum_negatives, bool):
            raise MarginRankError(f"sum_negatives must be true or false, got {sum_negatives!r}")
        self.sum_negatives = sum_negatives

    keywords = frozenset({"pos_groups", "neg_log_prob"})

    def forward(
        self,
        pos_scores: Tensor,
        neg_scores: Tensor,
        neg_mask: Tensor | None = None,
        *,
        pos_groups: Tensor | None = None,
        neg_log_prob: Tensor | None = None,
    ) -> Tensor:
        return self._evaluate(pos_scores, neg_scores, neg_mask, pos_groups=pos_groups, neg_log_prob=neg_log_prob)

    def per_example(
        self,
        pos: Tensor,
        neg: Tensor,
        mask: Tensor | None,
        pos_groups: Tensor | None = None,
        neg_log_prob: Tensor | None = None,
    ) -> Tensor:
        pos_logits = pos / self.tau1
        if pos_groups is not None:
            pos_logits = _group_log_mean_exp(pos_logits, _checked_groups(pos_groups, pos))
        if neg_log_prob is None:
            neg_log_mean = masked_log_mean_exp(neg, mask, 1 / self.tau1)  # 0 without a valid negative
        else:
            neg_log_mean = _importance_log_mean_exp(neg / self.tau1, checked_log_prob(neg_log_prob, neg, mask), mask)
        if self.sum_negatives:
            neg_log_mean = neg_log_mean + valid_count(neg, mask).log()
        return self.tau2 * neg_log_mean - pos_logits

    def extra_repr(self) -> str:
        summed = ", sum_negatives=True" if self.sum_negatives else ""
        return f"tau1={self.tau1}, tau2={self.tau2}{summed}, {super().extra_repr()}"


def _importance_log_mean_exp(logits: Tensor, log_q: Tensor, mask: Tensor | None) -> Tensor:
    """``log( sum_j exp(logits_j) / q_j  /  sum_j 1 / q_j )`` over the valid entries, ``[B, N] -> [B]``;
    0 for a row with no valid entry."""
    weighted, has_valid = masked_logsumexp(logits - log_q, mask)
    normaliser, _ = masked_logsumexp(-log_q, mask)
    log_mean = weighted - normaliser
    if has_valid is None:
        return log_mean
    return torch.where(has_valid, log_mean, torch.zeros((), dtype=log_mean.dtype, device=log_mean.device))


def _group_log_mean_exp(logits: Tensor, groups: Tensor) -> Tensor:
    """For each row, ``log mean exp(logits)`` over the rows with the same group id; ``[B] -> [B]``."""
    _, index, counts = torch.unique(groups, return_inverse=True, return_counts=True)
    shift = torch.full(counts.shape, -math.inf, dtype=logits.dtype, device=logits.device)
    shift = shift.scatter_reduce(0, index, logits.detach(), reduce="amax")
    sums = torch.zeros_like(shift).index_add(0, index, torch.exp(logits - shift[index]))
    return (shift + sums.log() - counts.to(logits.dtype).log())[index]


def _checked_groups(groups: object, pos: Tensor) -> Tensor:
    if not isinstance(groups, Tensor) or groups.is_floating_point() or groups.dtype == torch.bool:
        raise MarginRankError("pos_groups must be an integer tensor [B] of group ids (e.g. user ids)")
    if groups.shape != pos.shape or groups.device != pos.device:
        raise MarginRankError(
            f"pos_groups must have shape {list(pos.shape)} on {pos.device}; got {list(groups.shape)} on {groups.device}"
        )
    return groups

