from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from marginrank.losses import BCE

from ._reference import assert_matches_oracle, valid


def bce_oracle(pos, neg, mask):
    sigmoid = lambda x: 1.0 / (1.0 + math.exp(-x))  # noqa: E731 - inputs are small, no overflow
    out = []
    for b in range(len(pos)):
        negs = valid(neg[b], mask[b])
        neg_part = sum(-math.log(1.0 - sigmoid(s)) for s in negs) / max(len(negs), 1)
        out.append(-math.log(sigmoid(pos[b])) + neg_part)
    return np.array(out)


def test_matches_numpy_oracle() -> None:
    assert_matches_oracle(lambda r: BCE(reduction=r), bce_oracle)


def test_matches_torch_bce_with_logits_per_entry_when_n_is_one() -> None:
    pos, neg = torch.randn(5, dtype=torch.float64), torch.randn(5, 1, dtype=torch.float64)
    logits = torch.stack([pos, neg[:, 0]], dim=1)
    labels = torch.tensor([[1.0, 0.0]] * 5, dtype=torch.float64)
    reference = torch.nn.functional.binary_cross_entropy_with_logits(logits, labels, reduction="none").sum(1)
    torch.testing.assert_close(BCE(reduction="none")(pos, neg), reference)


def test_extreme_scores_are_finite() -> None:
    value = BCE(reduction="none")(torch.tensor([-1000.0]), torch.tensor([[1000.0]]))
    assert value.item() == pytest.approx(2000.0)


def test_gradcheck() -> None:
    pos = torch.randn(3, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True, True], [False] * 4, [True] * 4])
    assert torch.autograd.gradcheck(lambda p, n: BCE(reduction="sum")(p, n, mask), (pos, neg))
