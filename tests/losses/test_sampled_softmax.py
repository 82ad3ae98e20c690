from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import SampledSoftmax

from ._reference import assert_matches_oracle, random_batch


def softmax_oracle(t: float, log_q=None):
    """-log(e^{p/t} / (e^{p/t} + sum_j e^{l_j})) with l_j = s_j/t (- log(N_b q_j)), in float64 numpy."""

    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            idx = [j for j in range(neg.shape[1]) if mask[b, j]]
            logits = [pos[b] / t]
            for j in idx:
                shift = 0.0 if log_q is None else math.log(len(idx)) + log_q[b, j]
                logits.append(neg[b, j] / t - shift)
            top = max(logits)
            log_denominator = top + math.log(sum(math.exp(x - top) for x in logits))
            out.append(log_denominator - pos[b] / t)
        return np.array(out)

    return oracle


@pytest.mark.parametrize("t", [0.1, 1.0, 0.05])
def test_matches_numpy_oracle(t: float) -> None:
    assert_matches_oracle(lambda r: SampledSoftmax(t, reduction=r), softmax_oracle(t))


def test_log_q_correction_matches_oracle_and_broadcasts() -> None:
    pos, neg, mask = random_batch(21)
    q = np.random.default_rng(0).dirichlet(np.ones(neg.shape[1]))  # a shared pool: one q per column
    log_q = np.broadcast_to(np.log(q), neg.shape)
    for m in (None, mask):
        m_np = np.ones(tuple(neg.shape), bool) if m is None else m.numpy()
        expected = softmax_oracle(0.2, log_q)(pos.numpy(), neg.numpy(), m_np)
        got = SampledSoftmax(0.2, reduction="none")(pos, neg, m, neg_log_prob=torch.tensor(np.log(q)))
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_uniform_log_q_is_full_softmax_when_the_pool_is_the_catalogue() -> None:
    """Sampling all n items once each with q = 1/n: the corrected denominator is the exact one."""
    pos = torch.tensor([0.3, -0.2], dtype=torch.float64)
    neg = torch.tensor([[0.1, 0.5, -0.4], [0.9, 0.0, 0.2]], dtype=torch.float64)
    uniform = torch.full((3,), math.log(1 / 3), dtype=torch.float64)
    loss = SampledSoftmax(0.1, reduction="none")
    torch.testing.assert_close(loss(pos, neg, neg_log_prob=uniform), loss(pos, neg))


def test_no_overflow_with_large_pool_and_small_temperature() -> None:
    neg = torch.full((2, 100_000), 1.0)
    value = SampledSoftmax(0.01, reduction="none")(torch.tensor([1.0, 0.0]), neg)
    expected = [math.log1p(100_000), math.log(1 + 100_000 * math.exp(100.0))]
    torch.testing.assert_close(value.double(), torch.tensor(expected, dtype=torch.float64), rtol=1e-5, atol=0)


def test_all_masked_row_is_zero() -> None:
    out = SampledSoftmax(reduction="none")(torch.tensor([0.2]), torch.tensor([[0.9, 0.1]]), torch.tensor([[False, False]]))
    assert out.tolist() == [0.0]


def test_gradcheck_with_mask_and_log_q() -> None:
    pos = torch.randn(3, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True, True, True], [False] * 5, [True] * 5])
    log_q = torch.log(torch.rand(5, dtype=torch.float64) * 0.5 + 0.1)
    loss = SampledSoftmax(0.5)
    assert torch.autograd.gradcheck(lambda p, n: loss(p, n, mask, neg_log_prob=log_q), (pos, neg))
    assert torch.autograd.gradcheck(lambda p, n: loss(p, n), (pos, neg))


@pytest.mark.parametrize(
    "log_q", [torch.zeros(4), torch.tensor([0.0, -1.0, 0.5]), torch.tensor([0.0, -math.inf, -1.0]), [0.0, 0.0, 0.0]]
)
def test_bad_log_q(log_q) -> None:
    with pytest.raises(MarginRankError, match="neg_log_prob"):
        SampledSoftmax()(torch.zeros(2), torch.zeros(2, 3), neg_log_prob=log_q)


def test_masked_slots_may_hold_any_log_q() -> None:
    """An excluded item may have q = 0 (log q = -inf): a masked slot is not checked and not used."""
    pos, neg, mask = random_batch(22)
    q = np.random.default_rng(1).dirichlet(np.ones(neg.shape[1]))
    log_q = torch.tensor(np.broadcast_to(np.log(q), neg.shape).copy())
    poisoned = torch.where(mask, log_q, torch.full_like(log_q, -math.inf))
    loss = SampledSoftmax(0.2, reduction="none")
    torch.testing.assert_close(loss(pos, neg, mask, neg_log_prob=poisoned), loss(pos, neg, mask, neg_log_prob=log_q))


def test_temperature_must_be_positive() -> None:
    with pytest.raises(MarginRankError):
        SampledSoftmax(temperature=-0.1)
