from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import BSL, CCL, SampledSoftmax, TopKWeighted

from ._reference import assert_matches_oracle, grads, random_batch, valid

BETA = torch.tensor([0.3, -0.2, 0.9, 0.0, -1.0, 0.5, 0.1], dtype=torch.float64)  # one per row of random_batch


def sl_at_k_oracle(t_d: float, t_w: float, beta: np.ndarray):
    """SL@K's per-example value in float64 numpy: sigmoid((s_p - beta)/t_w) * -log softmax of the positive."""

    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            weight = 1.0 / (1.0 + math.exp(-(pos[b] - beta[b]) / t_w))
            denominator = math.exp(pos[b] / t_d) + sum(math.exp(s / t_d) for s in valid(neg[b], mask[b]))
            out.append(weight * -math.log(math.exp(pos[b] / t_d) / denominator))
        return np.array(out)

    return oracle


@pytest.mark.parametrize("t_d,t_w", [(0.1, 1.0), (0.2, 2.25), (0.5, 0.5)])
def test_softmax_base_matches_numpy_oracle(t_d: float, t_w: float) -> None:
    def make(reduction: str):
        return functools.partial(TopKWeighted(SampledSoftmax(t_d), t_w, reduction=reduction), pos_threshold=BETA)

    assert_matches_oracle(make, sl_at_k_oracle(t_d, t_w, BETA.numpy()))


def test_gradient_is_the_papers_weight_times_base_plus_weight_derivative() -> None:
    """d/ds_p = w * dbase/ds_p + w (1 - w) / t_w * base; d/ds_n = w * dbase/ds_n; beta gets none."""
    pos, neg, mask = random_batch(41)
    t_d, t_w = 0.2, 1.5
    base = SampledSoftmax(t_d, reduction="none")
    base_value, base_pos, base_neg = grads(base, pos, neg, mask)
    beta = BETA.clone().requires_grad_(True)
    value, g_pos, g_neg = grads(TopKWeighted(base, t_w, reduction="none"), pos, neg, mask, pos_threshold=beta)
    w = torch.sigmoid((pos - BETA) / t_w)
    torch.testing.assert_close(value, w * base_value)
    torch.testing.assert_close(g_pos, w * base_pos + w * (1 - w) / t_w * base_value)
    torch.testing.assert_close(g_neg, w.unsqueeze(1) * base_neg)
    assert beta.grad is None
    torch.autograd.gradcheck(
        lambda p, n: TopKWeighted(base, t_w, reduction="none")(p, n, mask, pos_threshold=BETA),
        (pos.clone().requires_grad_(True), neg.clone().requires_grad_(True)),
    )


def test_base_keywords_pass_through() -> None:
    pos, neg, mask = random_batch(42)
    groups = torch.tensor([3, 1, 3, 2, 1, 3, 0])
    log_q = torch.full(tuple(neg.shape), -math.log(50.0), dtype=torch.float64)
    bsl = BSL(0.1, 1.2, reduction="none")
    weighted = TopKWeighted(bsl, 0.7, reduction="none")
    w = torch.sigmoid((pos - BETA) / 0.7)
    torch.testing.assert_close(
        weighted(pos, neg, mask, pos_threshold=BETA, pos_groups=groups, neg_log_prob=log_q),
        w * bsl(pos, neg, mask, pos_groups=groups, neg_log_prob=log_q),
    )
    assert weighted.takes("pos_threshold") and weighted.takes("pos_groups") and weighted.takes("neg_log_prob")
    ccl = TopKWeighted(CCL())
    assert ccl.takes("pos_threshold") and not ccl.takes("neg_log_prob")
    with pytest.raises(MarginRankError, match="CCL takes no neg_log_prob"):
        ccl(pos, neg, mask, pos_threshold=BETA, neg_log_prob=log_q)


def test_a_threshold_far_below_weighs_one_and_far_above_weighs_zero() -> None:
    pos, neg, _ = random_batch(43)
    base = SampledSoftmax(0.1, reduction="none")
    loss = TopKWeighted(base, 0.01, reduction="none")
    torch.testing.assert_close(loss(pos, neg, pos_threshold=torch.full_like(pos, -10.0)), base(pos, neg))
    torch.testing.assert_close(loss(pos, neg, pos_threshold=torch.full_like(pos, 10.0)), torch.zeros_like(pos))


@pytest.mark.parametrize(
    ("threshold", "message"),
    [
        (None, "needs pos_threshold"),
        (torch.zeros(3, dtype=torch.float64), r"shape \[7\]"),
        (torch.zeros(7, dtype=torch.long), "float tensor"),
        (torch.full((7,), math.nan, dtype=torch.float64), "not finite"),
    ],
)
def test_bad_thresholds_are_named(threshold, message: str) -> None:
    pos, neg, _ = random_batch(44)
    with pytest.raises(MarginRankError, match=message):
        TopKWeighted(SampledSoftmax())(pos, neg, pos_threshold=threshold)


def test_bad_construction() -> None:
    with pytest.raises(MarginRankError, match="weights a ranking loss"):
        TopKWeighted(torch.nn.MSELoss())
    with pytest.raises(MarginRankError, match="already top-K weighted"):
        TopKWeighted(TopKWeighted(SampledSoftmax()))
    with pytest.raises(MarginRankError, match="weight_temperature"):
        TopKWeighted(SampledSoftmax(), 0.0)
