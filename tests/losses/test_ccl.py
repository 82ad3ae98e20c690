from __future__ import annotations

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import CCL

from ._reference import assert_matches_oracle, grads, valid


def ccl_oracle(margin: float, weight: float):
    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            negs = valid(neg[b], mask[b])
            penalty = sum(max(0.0, s - margin) for s in negs) / max(len(negs), 1)
            out.append(max(0.0, 1.0 - pos[b]) + weight * penalty)
        return np.array(out)

    return oracle


@pytest.mark.parametrize("margin,weight", [(0.9, 150.0), (0.2, 3.0), (-0.5, 1.0)])
def test_matches_numpy_oracle(margin: float, weight: float) -> None:
    assert_matches_oracle(lambda r: CCL(margin, weight, reduction=r), ccl_oracle(margin, weight))


def test_hand_worked_value() -> None:
    # relu(1 - 0.5) + 10 * mean(relu(0.95 - 0.9), relu(0.5 - 0.9)) = 0.5 + 10 * 0.025
    loss = CCL(margin=0.9, neg_weight=10.0)
    assert loss(torch.tensor([0.5]), torch.tensor([[0.95, 0.5]])).item() == pytest.approx(0.75)


def test_gradient_is_w_over_n_above_margin_and_zero_below() -> None:
    pos = torch.tensor([0.3, 0.7], dtype=torch.float64)
    neg = torch.tensor([[0.95, 0.9, 0.2, 0.91], [0.1, 0.92, 0.99, -0.3]], dtype=torch.float64)
    _, g_pos, g_neg = grads(CCL(margin=0.9, neg_weight=150.0, reduction="sum"), pos, neg)
    expected = torch.where(neg > 0.9, 150.0 / 4, 0.0).double()  # 0.9 itself is at the margin: 0
    assert torch.equal(g_neg, expected)
    assert torch.equal(g_pos, torch.tensor([-1.0, -1.0], dtype=torch.float64))


def test_gradient_with_mask_uses_valid_count() -> None:
    pos = torch.tensor([0.3], dtype=torch.float64)
    neg = torch.tensor([[0.95, 0.97, 0.99]], dtype=torch.float64)
    mask = torch.tensor([[True, True, False]])
    _, _, g_neg = grads(CCL(margin=0.9, neg_weight=6.0, reduction="sum"), pos, neg, mask)
    assert torch.equal(g_neg, torch.tensor([[3.0, 3.0, 0.0]], dtype=torch.float64))


def test_all_masked_row_keeps_positive_term() -> None:
    loss = CCL(reduction="none")
    out = loss(torch.tensor([0.25]), torch.tensor([[0.99]]), torch.tensor([[False]]))
    assert out.tolist() == [0.75]


@pytest.mark.parametrize("params", [{"neg_weight": -1.0}, {"margin": float("nan")}, {"reduction": "avg"}])
def test_bad_parameters(params) -> None:
    with pytest.raises(MarginRankError):
        CCL(**params)
