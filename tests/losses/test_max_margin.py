from __future__ import annotations

import numpy as np
import pytest
import torch

from marginrank.losses import MaxMarginHinge

from ._reference import assert_matches_oracle, grads, valid


def max_margin_oracle(margin: float):
    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            negs = valid(neg[b], mask[b])
            out.append(max(0.0, margin + max(negs) - pos[b]) if negs else 0.0)
        return np.array(out)

    return oracle


@pytest.mark.parametrize("margin", [1.0, 0.3])
def test_matches_numpy_oracle(margin: float) -> None:
    assert_matches_oracle(lambda r: MaxMarginHinge(margin, reduction=r), max_margin_oracle(margin))


def test_only_the_hardest_negative_gets_gradient() -> None:
    pos = torch.tensor([0.5, 5.0], dtype=torch.float64)
    neg = torch.tensor([[0.1, 0.4, -0.3], [0.1, 0.4, -0.3]], dtype=torch.float64)
    value, g_pos, g_neg = grads(MaxMarginHinge(reduction="none"), pos, neg)
    assert value.tolist() == pytest.approx([0.9, 0.0])
    assert g_pos.tolist() == [-1.0, 0.0]  # margin met in row 1: no gradient at all
    assert g_neg.tolist() == [[0.0, 1.0, 0.0], [0.0, 0.0, 0.0]]


def test_mask_hides_the_hardest_negative() -> None:
    pos = torch.tensor([0.5], dtype=torch.float64)
    neg = torch.tensor([[0.1, 0.4, -0.3]], dtype=torch.float64)
    mask = torch.tensor([[True, False, True]])
    value, _, g_neg = grads(MaxMarginHinge(reduction="sum"), pos, neg, mask)
    assert value.item() == pytest.approx(0.6)
    assert g_neg.tolist() == [[1.0, 0.0, 0.0]]


def test_exactly_at_the_margin() -> None:
    value, g_pos, g_neg = grads(MaxMarginHinge(reduction="sum"), torch.tensor([0.5]), torch.tensor([[-0.5, -1.0]]))
    assert value.item() == 0.0 and g_pos.tolist() == [0.0] and g_neg.tolist() == [[0.0, 0.0]]


def test_all_masked_row_is_zero() -> None:
    out = MaxMarginHinge(reduction="none")(torch.tensor([0.0, 0.0]), torch.zeros(2, 3), torch.tensor([[False] * 3, [True] * 3]))
    assert out.tolist() == [0.0, 1.0]


def test_shrinking_unnormalized_scores_lowers_the_loss_toward_the_margin() -> None:
    """The collapse of docs/losses.md: with one wrong-ordered row, scaling all scores by c -> 0 lowers the mean loss."""
    pos = torch.tensor([1.0, 0.0])
    neg = torch.tensor([[0.6], [0.6]])  # gap +0.4 (right order) and -0.6 (wrong order)
    loss = MaxMarginHinge()
    values = [loss(c * pos, c * neg).item() for c in (1.0, 0.5, 0.1, 0.0)]
    assert values == sorted(values, reverse=True) and values[-1] == 1.0
    assert values[0] == pytest.approx(1.1)
