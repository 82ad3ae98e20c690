from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import BSL

from ._reference import assert_matches_oracle, grads, random_batch, valid


def bsl_oracle(tau1: float, tau2: float, groups=None):
    """Written like the authors' "multi" mode, in float64 numpy with explicit exp/log (inputs are small)."""

    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            same = range(len(pos)) if groups is not None else [b]
            same = [k for k in same if groups is None or groups[k] == groups[b]]
            pos_mean = sum(math.exp(pos[k] / tau1) for k in same) / len(same)
            negs = valid(neg[b], mask[b])
            neg_term = tau2 * math.log(sum(math.exp(s / tau1) for s in negs) / len(negs)) if negs else 0.0
            out.append(-math.log(pos_mean) + neg_term)
        return np.array(out)

    return oracle


@pytest.mark.parametrize("tau1,tau2", [(0.11, 1.10), (0.08, 1.22), (0.5, 1.0)])
def test_matches_numpy_oracle(tau1: float, tau2: float) -> None:
    assert_matches_oracle(lambda r: BSL(tau1, tau2, reduction=r), bsl_oracle(tau1, tau2))


def test_pos_groups_average_the_positive_side_over_the_user() -> None:
    pos, neg, mask = random_batch(31, batch=8)
    groups = np.array([4, 7, 4, 4, 9, 7, 1, 100])
    expected = bsl_oracle(0.2, 1.3, groups)(pos.numpy(), neg.numpy(), mask.numpy())
    got = BSL(0.2, 1.3, reduction="none")(pos, neg, mask, pos_groups=torch.tensor(groups))
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_unique_groups_equal_no_groups() -> None:
    pos, neg, mask = random_batch(32)
    loss = BSL(reduction="none")
    torch.testing.assert_close(loss(pos, neg, mask, pos_groups=torch.arange(7) * 3), loss(pos, neg, mask))


def test_readme_form_differs_by_tau2_log_n_only() -> None:
    """-log(exp(s_p/t1) / (sum_j exp(s_nj/t1))^t2) = ours + t2 * log N."""
    pos, neg, _ = random_batch(33, n_neg=12)
    t1, t2 = 0.11, 1.10
    readme = -(pos / t1) + t2 * torch.logsumexp(neg / t1, dim=1)
    torch.testing.assert_close(BSL(t1, t2, reduction="none")(pos, neg) + t2 * math.log(12), readme)


def test_tau2_one_has_the_softmax_gradient_on_negatives() -> None:
    """With t2 = 1, BSL's gradient on a negative is softmax over the negatives alone (no positive)."""
    pos = torch.tensor([0.2], dtype=torch.float64, requires_grad=True)
    neg = torch.tensor([[0.1, 0.5, -0.3]], dtype=torch.float64, requires_grad=True)
    BSL(0.5, 1.0, reduction="sum")(pos, neg).backward()
    torch.testing.assert_close(neg.grad, torch.softmax(neg.detach() / 0.5, dim=1) / 0.5)
    assert pos.grad.item() == pytest.approx(-2.0)


def test_no_overflow_at_small_tau1_and_large_n() -> None:
    value = BSL(0.01, 1.2, reduction="none")(torch.tensor([1.0]), torch.ones(1, 200_000))
    assert value.item() == pytest.approx(0.2 * 100.0, rel=1e-5)  # -100 + 1.2 * 100


def test_gradcheck_with_mask_and_groups() -> None:
    pos = torch.randn(4, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(4, 5, generator=torch.Generator().manual_seed(1)) < 0.6
    mask[0] = False
    loss = BSL(0.7, 1.2)
    assert torch.autograd.gradcheck(lambda p, n: loss(p, n, mask, pos_groups=torch.tensor([0, 1, 0, 2])), (pos, neg))


@pytest.mark.parametrize("groups", [torch.tensor([0.0, 1.0]), torch.tensor([0, 1, 2]), [0, 1]])
def test_bad_groups(groups) -> None:
    with pytest.raises(MarginRankError, match="pos_groups"):
        BSL()(torch.zeros(2), torch.zeros(2, 3), pos_groups=groups)


@pytest.mark.parametrize("params", [{"tau1": 0.0}, {"tau2": -1.0}])
def test_bad_parameters(params) -> None:
    with pytest.raises(MarginRankError):
        BSL(**params)


def bsl_log_q_oracle(tau1: float, tau2: float, log_q: np.ndarray):
    """The self-normalised importance estimate, written out: sum_j w_j e^{s_j/t1} / sum_j w_j, w_j = 1/q_j."""

    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            kept = [j for j in range(neg.shape[1]) if mask[b, j]]
            weights = [math.exp(-log_q[b, j]) for j in kept]
            if kept:
                estimate = sum(w * math.exp(neg[b, j] / tau1) for w, j in zip(weights, kept)) / sum(weights)
                neg_term = tau2 * math.log(estimate)
            else:
                neg_term = 0.0
            out.append(-pos[b] / tau1 + neg_term)
        return np.array(out)

    return oracle


def test_log_q_correction_matches_oracle_and_broadcasts() -> None:
    pos, neg, mask = random_batch(41)
    q = np.random.default_rng(2).dirichlet(np.ones(neg.shape[1]))  # a shared pool: one q per column
    for m in (None, mask):
        m_np = np.ones(tuple(neg.shape), bool) if m is None else m.numpy()
        expected = bsl_log_q_oracle(0.2, 1.3, np.broadcast_to(np.log(q), neg.shape))(pos.numpy(), neg.numpy(), m_np)
        got = BSL(0.2, 1.3, reduction="none")(pos, neg, m, neg_log_prob=torch.tensor(np.log(q)))
        np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)


def test_uniform_log_q_changes_nothing() -> None:
    """With equal q the weights cancel: the plain mean, whatever the catalogue size."""
    pos, neg, mask = random_batch(42)
    loss = BSL(0.11, 1.1, reduction="none")
    for m in (None, mask):
        equal = torch.full((neg.shape[1],), math.log(1 / 40_981), dtype=torch.float64)
        torch.testing.assert_close(loss(pos, neg, m, neg_log_prob=equal), loss(pos, neg, m))


def test_log_q_recovers_the_catalogue_mean_from_popularity_draws() -> None:
    """Negatives drawn in proportion to popularity: corrected, the loss approaches BSL over the whole
    catalogue; uncorrected, it is pulled toward the popular items' scores."""
    gen = torch.Generator().manual_seed(5)
    n_items, draws, t1, t2 = 300, 100_000, 0.1, 1.2
    popularity = torch.arange(1, n_items + 1, dtype=torch.float64) ** 1.5
    q = popularity / popularity.sum()
    scores = 0.6 * (q / q.max()) + 0.1 * torch.randn(n_items, generator=gen, dtype=torch.float64)  # popular items score higher
    pos = torch.tensor([0.5], dtype=torch.float64)
    exact = BSL(t1, t2, reduction="none")(pos, scores.unsqueeze(0))
    drawn = torch.multinomial(q, draws, replacement=True, generator=gen)
    neg = scores[drawn].unsqueeze(0)
    corrected = BSL(t1, t2, reduction="none")(pos, neg, neg_log_prob=q.log()[drawn])
    uncorrected = BSL(t1, t2, reduction="none")(pos, neg)
    assert abs(corrected - exact).item() < 0.05
    assert abs(uncorrected - exact).item() > 0.5


def test_gradcheck_with_mask_groups_and_log_q() -> None:
    pos = torch.randn(4, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(4, 5, generator=torch.Generator().manual_seed(3)) < 0.6
    mask[0] = False
    log_q = torch.log(torch.rand(5, dtype=torch.float64, generator=torch.Generator().manual_seed(4)) * 0.5 + 0.1)
    loss = BSL(0.7, 1.2)
    groups = torch.tensor([0, 1, 0, 2])
    assert torch.autograd.gradcheck(lambda p, n: loss(p, n, mask, pos_groups=groups, neg_log_prob=log_q), (pos, neg))
    assert torch.autograd.gradcheck(lambda p, n: loss(p, n, neg_log_prob=log_q), (pos, neg))


def test_masked_slots_may_hold_any_log_q() -> None:
    pos, neg, mask = random_batch(43)
    log_q = torch.log(torch.rand(neg.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(6)))
    poisoned = torch.where(mask, log_q, torch.full_like(log_q, -math.inf))
    loss = BSL(0.2, 1.3, reduction="none")
    torch.testing.assert_close(loss(pos, neg, mask, neg_log_prob=poisoned), loss(pos, neg, mask, neg_log_prob=log_q))


@pytest.mark.parametrize("log_q", [torch.zeros(4), torch.tensor([0.0, -1.0, 0.5]), [0.0, 0.0, 0.0]])
def test_bad_log_q(log_q) -> None:
    with pytest.raises(MarginRankError, match="neg_log_prob"):
        BSL()(torch.zeros(2), torch.zeros(2, 3), neg_log_prob=log_q)


def test_sum_negatives_is_the_readme_form_with_a_mask_and_keeps_the_gradients() -> None:
    pos, neg, mask = random_batch(34)
    t1, t2 = 0.11, 1.22
    summed = BSL(t1, t2, sum_negatives=True, reduction="none")
    readme = []
    for b in range(len(pos)):
        negs = valid(neg[b].numpy(), mask[b].numpy())
        neg_term = t2 * math.log(sum(math.exp(s / t1) for s in negs)) if negs else 0.0  # no negative: positive term only
        readme.append(-float(pos[b]) / t1 + neg_term)
    np.testing.assert_allclose(summed(pos, neg, mask).numpy(), readme, rtol=1e-9)
    _, g_pos_sum, g_neg_sum = grads(summed, pos, neg, mask)
    _, g_pos, g_neg = grads(BSL(t1, t2, reduction="none"), pos, neg, mask)
    torch.testing.assert_close((g_pos_sum, g_neg_sum), (g_pos, g_neg))
    with pytest.raises(MarginRankError, match="sum_negatives must be true or false"):
        BSL(sum_negatives=1)
