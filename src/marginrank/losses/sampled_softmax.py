"""Sampled softmax (InfoNCE) with an optional log-Q correction."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_positive
from marginrank.losses.base import (
    Reduction,
    RankingLoss,
    checked_log_prob,
    masked_logsumexp,
    valid_count,
)


class SampledSoftmax(RankingLoss):
    """Sampled softmax / InfoNCE: ``-log( e^{s_p/t} / (e^{s_p/t} + sum_j e^{s_nj/t}) )``.

    Computed as ``softplus(logsumexp_j(s_nj/t) - s_p/t)``, finite for any N and any score.
    Source: sampled softmax (Jean et al., ACL 2015; Covington et al., RecSys 2016) and InfoNCE
    (van den Oord et al., arXiv 1807.03748); with cosine scores ``t`` near 0.1 is the usual choice
    (the temperature-free RecBox ``SoftmaxCrossEntropyLoss`` is ``t = 1``).

    Log-Q correction: call ``loss(pos, neg, neg_mask, neg_log_prob=log_q)`` where ``log_q`` is the
    natural log of the probability that one draw of the sampler returns that negative,
    broadcastable to ``[B, N]`` (e.g. ``[N]`` for a shared pool). Each negative's logit then becomes
    ``s_nj/t - log(N_b * q_j)``, with ``N_b`` the number of valid negatives of the row, so that
    ``sum_j exp(logit_j)`` is the importance-sampling estimate of ``sum_{all items} exp(s/t)``
    (Bengio & Senecal, IEEE TNN 2008). Yi et al. (RecSys 2019) subtract ``log q_j`` alone; the two
    differ by ``log N_b`` per row. With uniform sampling over n items the correction is ``+log(n/N_b)``.

    Args:
        temperature: ``t`` [0.1] (> 0).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` masked negatives leave the denominator exactly; a row with none gives 0
    (its softmax has only the positive).
    """

    def __init__(self, temperature: float = 0.1, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.temperature = require_positive("temperature", temperature)

    keywords = frozenset({"neg_log_prob"})

    def forward(
        self,
        pos_scores: Tensor,
        neg_scores: Tensor,
        neg_mask: Tensor | None = None,
        *,
        neg_log_prob: Tensor | None = None,
    ) -> Tensor:
        return self._evaluate(pos_scores, neg_scores, neg_mask, neg_log_prob=neg_log_prob)

    def per_example(
        self, pos: Tensor, neg: Tensor, mask: Tensor | None, neg_log_prob: Tensor | None = None
    ) -> Tensor:
        if neg_log_prob is None:
            neg_lse, has_valid = masked_logsumexp(neg, mask, 1 / self.temperature)
        else:
            log_q = checked_log_prob(neg_log_prob, neg, mask)
            logits = neg / self.temperature - (log_q + valid_count(neg, mask).log().unsqueeze(1))
            neg_lse, has_valid = masked_logsumexp(logits, mask)
        loss = F.softplus(neg_lse - pos / self.temperature)
        if has_valid is None:
            return loss
        return torch.where(has_valid, loss, torch.zeros((), dtype=loss.dtype, device=loss.device))

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, {super().extra_repr()}"

