from __future__ import annotations

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import CCL, MMCL

from ._reference import assert_matches_oracle, grads, random_batch, valid

YELP = dict(margins=[0.6, 0.7, 0.8, 0.9], weights=[0.05, 0.15, 0.2, 0.6], pos_weight=1.0, neg_weight=400.0)
GOWALLA = dict(margins=[0.7, 0.8, 0.9], weights=[0.10, 0.15, 0.75], pos_weight=1.0, neg_weight=700.0)


def mmcl_oracle(margins, weights, pos_weight, neg_weight):
    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            negs = valid(neg[b], mask[b])
            total = 0.0
            for s in negs:
                for m, w in zip(margins, weights):
                    total += w * max(0.0, s - m)
            out.append(pos_weight * max(0.0, 1.0 - pos[b]) + neg_weight * total / max(len(negs), 1))
        return np.array(out)

    return oracle


@pytest.mark.parametrize("params", [YELP, GOWALLA, dict(margins=[0.0, -0.5], weights=[2.0, 0.5], pos_weight=0.3, neg_weight=5.0)])
def test_matches_numpy_oracle(params) -> None:
    assert_matches_oracle(lambda r: MMCL(**params, reduction=r), mmcl_oracle(**params))


def test_defaults_are_the_yelp_setting() -> None:
    loss = MMCL()
    assert (list(loss.margins), list(loss.weights), loss.pos_weight, loss.neg_weight) == (
        YELP["margins"], YELP["weights"], 1.0, 400.0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_single_margin_equals_ccl_exactly(dtype) -> None:
    pos, neg, mask = random_batch(11, batch=16, n_neg=50)
    pos, neg = pos.to(dtype), neg.to(dtype)
    for m in (None, mask):
        mmcl = MMCL(margins=[0.4], weights=[1.0], pos_weight=1.0, neg_weight=150.0, reduction="none")(pos, neg, m)
        ccl = CCL(margin=0.4, neg_weight=150.0, reduction="none")(pos, neg, m)
        assert torch.equal(mmcl, ccl)


def test_gradient_is_sum_of_exceeded_margin_weights() -> None:
    params = dict(margins=[0.6, 0.7, 0.8, 0.9], weights=[0.05, 0.15, 0.2, 0.6], neg_weight=400.0)
    neg = torch.tensor([[0.95, 0.85, 0.75, 0.65, 0.5]], dtype=torch.float64)
    _, g_pos, g_neg = grads(MMCL(**params, reduction="sum"), torch.tensor([0.5], dtype=torch.float64), neg)
    per_margin = [sum(w for m, w in zip(params["margins"], params["weights"]) if s > m) for s in neg[0].tolist()]
    assert per_margin == [1.0, 0.4, 0.2, 0.05, 0]
    torch.testing.assert_close(g_neg, 400.0 / 5 * torch.tensor([per_margin], dtype=torch.float64), rtol=1e-12, atol=0)
    assert g_pos.tolist() == [-1.0]


def test_at_exactly_a_margin_the_negative_gets_only_lower_margins() -> None:
    neg = torch.tensor([[0.5, 0.25]], dtype=torch.float64)
    loss = MMCL(margins=[0.25, 0.5], weights=[1.0, 2.0], neg_weight=2.0, reduction="sum")
    value, _, g_neg = grads(loss, torch.tensor([1.0], dtype=torch.float64), neg)
    assert value.item() == pytest.approx(0.25)  # 2/2 * (1 * 0.25 + 2 * 0)
    assert g_neg.tolist() == [[1.0, 0.0]]  # (w_n/N) * w_1 for 0.5, nothing for 0.25


def test_mask_averages_over_valid_negatives_of_the_row() -> None:
    loss = MMCL(margins=[0.5], weights=[1.0], neg_weight=1.0, reduction="none")
    neg = torch.tensor([[0.9, 0.7, 0.99], [0.0, 0.0, 0.0]])
    mask = torch.tensor([[True, True, False], [False, False, False]])
    out = loss(torch.tensor([1.0, 0.5]), neg, mask)
    torch.testing.assert_close(out, torch.tensor([0.3, 0.5]))  # (0.4 + 0.2) / 2; positive term only


@pytest.mark.parametrize(
    "params",
    [
        dict(margins=[0.5, 0.6], weights=[1.0]),
        dict(margins=[], weights=[]),
        dict(margins="0.5", weights=[1.0]),
        dict(weights=[1.0, 1.0, 1.0, -0.1]),
        dict(neg_weight=-5.0),
        dict(pos_weight=float("inf")),
    ],
)
def test_bad_parameters(params) -> None:
    with pytest.raises(MarginRankError):
        MMCL(**params)
