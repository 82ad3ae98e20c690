from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import BSL, PSL, get

from ._reference import assert_matches_oracle, grads, random_batch, valid

ACTIVATIONS = {  # the surrogate a(d) itself, written independently of the loss's log-space code
    "tanh": lambda d: 1 + math.tanh(d),
    "atan": lambda d: max(0.0, 1 + math.atan(d)),
    "relu": lambda d: max(0.0, 1 + d),
    "exp": math.exp,
}


def psl_oracle(t: float, activation: str, scale: float = 2.0):
    """``log mean_j a((s_j - s_p) / scale)^(1/t)`` in float64 with explicit powers (inputs are small)."""

    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            negs = valid(neg[b], mask[b])
            terms = [ACTIVATIONS[activation]((s - pos[b]) / scale) ** (1 / t) for s in negs]
            out.append(math.log(sum(terms) / len(terms)) if negs else 0.0)
        return np.array(out)

    return oracle


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
@pytest.mark.parametrize("t,scale", [(0.25, 2.0), (0.5, 1.0)])
def test_matches_numpy_oracle(activation: str, t: float, scale: float) -> None:
    assert_matches_oracle(lambda r: PSL(t, activation, scale, reduction=r), psl_oracle(t, activation, scale))


def test_exp_activation_is_bsl_with_t2_one() -> None:
    """With a = exp, PSL is the sampled softmax over the negatives at temperature scale * t (rows with
    a valid negative: with none, BSL keeps its positive term and PSL gives 0)."""
    pos, neg, mask = (x[1:] for x in random_batch(41))
    torch.testing.assert_close(PSL(0.05, "exp", reduction="none")(pos, neg, mask), BSL(0.1, 1.0, reduction="none")(pos, neg, mask))


def test_tanh_gradient_matches_the_analytic_form() -> None:
    """dL/ds_j = w_j (1 - tanh d_j) / (scale t) with w = a(d)^(1/t) normalized; dL/ds_p = -sum_j dL/ds_j."""
    pos, neg, _ = random_batch(42, n_neg=6)
    t, scale = 0.2, 2.0
    _, g_pos, g_neg = grads(PSL(t, "tanh", scale, reduction="sum"), pos, neg)
    d = (neg - pos.unsqueeze(1)) / scale
    weights = (1 + torch.tanh(d)) ** (1 / t)
    expected = weights / weights.sum(dim=1, keepdim=True) * (1 - torch.tanh(d)) / (scale * t)
    torch.testing.assert_close(g_neg, expected)
    torch.testing.assert_close(g_pos, -expected.sum(dim=1))


def test_tanh_is_finite_far_below_the_positive() -> None:
    """Dot-product scores can put d far below -1, where 1 + tanh(d) rounds to 0 in float32."""
    pos = torch.tensor([60.0, 0.0])
    neg = torch.tensor([[-60.0, -40.0], [0.0, -80.0]])
    value, g_pos, g_neg = grads(PSL(0.05, "tanh", reduction="none"), pos, neg)
    assert torch.isfinite(value).all() and torch.isfinite(g_pos).all() and torch.isfinite(g_neg).all()
    # row 0: log mean (2 e^{2d})^{1/t} with d = -60 and -50, dominated by d = -50
    assert value[0].item() == pytest.approx((math.log(2) - 100) / 0.05 - math.log(2), rel=1e-5)


@pytest.mark.parametrize("activation,cutoff", [("relu", -1.0), ("atan", -math.tan(1.0))])
def test_negatives_below_the_cutoff_contribute_nothing(activation: str, cutoff: float) -> None:
    scale = 2.0
    pos = torch.tensor([0.0], dtype=torch.float64)
    far = 2 * scale * cutoff  # d = 2 * cutoff: a(d) = 0
    neg = torch.tensor([[0.3, far]], dtype=torch.float64)
    value, g_pos, g_neg = grads(PSL(0.1, activation, scale, reduction="none"), pos, neg)
    near_only = PSL(0.1, activation, scale, reduction="none")(pos, neg[:, :1])
    assert value.item() == pytest.approx(near_only.item() - math.log(2))  # the mean still counts it
    assert g_neg[0, 1].item() == 0.0 and g_neg[0, 0].item() > 0
    all_far = grads(PSL(0.1, activation, scale, reduction="none"), pos, torch.full((1, 3), far, dtype=torch.float64))
    assert all(torch.isfinite(x).all() for x in all_far) and torch.equal(all_far[2], torch.zeros(1, 3, dtype=torch.float64))


def test_harder_negative_gets_less_extra_weight_than_softmax() -> None:
    """PSL's point: tanh bends down above d = 0, so a negative scored above the positive (often a
    false negative) weighs less, relative to an easy one, than under the sampled softmax."""
    pos, neg = torch.tensor([0.0]), torch.tensor([[0.8, -0.4]])
    psl = grads(PSL(0.05, "tanh", reduction="sum"), pos, neg)[2][0]
    softmax = grads(PSL(0.05, "exp", reduction="sum"), pos, neg)[2][0]
    assert psl[0] / psl[1] < softmax[0] / softmax[1]


def test_gradcheck_with_mask() -> None:
    pos = torch.randn(4, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(4, 5, dtype=torch.float64, requires_grad=True)
    mask = torch.rand(4, 5, generator=torch.Generator().manual_seed(2)) < 0.6
    mask[0] = False
    for activation in ACTIVATIONS:
        loss = PSL(0.3, activation)
        assert torch.autograd.gradcheck(lambda p, n: loss(p, n, mask), (pos, neg))


def test_registry_and_bad_parameters() -> None:
    loss = get("psl", temperature=0.04, activation="atan")
    assert isinstance(loss, PSL) and loss.temperature == 0.04 and loss.activation == "atan" and loss.scale == 2.0
    with pytest.raises(MarginRankError, match="activation must be one of tanh, atan, relu, exp; got 'sigmoid'"):
        PSL(activation="sigmoid")
    with pytest.raises(MarginRankError, match="temperature must be > 0"):
        PSL(temperature=0.0)
    with pytest.raises(MarginRankError, match="scale must be > 0"):
        PSL(scale=-2.0)
