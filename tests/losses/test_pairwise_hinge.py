from __future__ import annotations

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import PairwiseHinge

from ._reference import assert_matches_oracle, grads, valid


def hinge_oracle(margin: float):
    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            terms = [max(0.0, margin + s - pos[b]) for s in valid(neg[b], mask[b])]
            out.append(sum(terms) / max(len(terms), 1))
        return np.array(out)

    return oracle


@pytest.mark.parametrize("margin", [1.0, 0.25, 0.0])
def test_matches_numpy_oracle(margin: float) -> None:
    assert_matches_oracle(lambda r: PairwiseHinge(margin, reduction=r), hinge_oracle(margin))


def test_single_negative_gradients_are_minus_one_and_plus_one_while_violated() -> None:
    # CS224n: J = max(0, 1 + s_c - s) gives dJ/ds = -1 and dJ/ds_c = +1 while violated.
    pos = torch.tensor([0.5, 3.0], dtype=torch.float64)
    neg = torch.tensor([[0.25], [0.5]], dtype=torch.float64)
    value, g_pos, g_neg = grads(PairwiseHinge(reduction="sum"), pos, neg)
    assert value.item() == 0.75
    assert g_pos.tolist() == [-1.0, 0.0] and g_neg.tolist() == [[1.0], [0.0]]


def test_gradients_with_several_negatives_are_one_over_n_per_violator() -> None:
    pos = torch.tensor([0.0], dtype=torch.float64)
    neg = torch.tensor([[0.5, -2.0, -0.5, -1.5]], dtype=torch.float64)
    _, g_pos, g_neg = grads(PairwiseHinge(reduction="sum"), pos, neg)
    assert g_neg.tolist() == [[0.25, 0.0, 0.25, 0.0]] and g_pos.tolist() == [-0.5]


def test_exactly_at_the_margin_costs_nothing_and_has_no_gradient() -> None:
    value, g_pos, g_neg = grads(PairwiseHinge(reduction="sum"), torch.tensor([0.5]), torch.tensor([[-0.5]]))
    assert value.item() == 0.0 and g_pos.tolist() == [0.0] and g_neg.tolist() == [[0.0]]


def test_negative_margin_rejected() -> None:
    with pytest.raises(MarginRankError, match="margin"):
        PairwiseHinge(margin=-1.0)
