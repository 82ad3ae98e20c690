from __future__ import annotations

import numpy as np
import torch

from marginrank.losses import MSE

from ._reference import assert_matches_oracle, valid


def mse_oracle(pos, neg, mask):
    out = []
    for b in range(len(pos)):
        negs = valid(neg[b], mask[b])
        out.append((pos[b] - 1.0) ** 2 / 2 + sum(s * s / 2 for s in negs) / max(len(negs), 1))
    return np.array(out)


def test_matches_numpy_oracle() -> None:
    assert_matches_oracle(lambda r: MSE(reduction=r), mse_oracle)


def test_mean_normalized_over_negatives() -> None:
    """Doubling the negatives (same values) leaves the loss unchanged: a mean, not RecBox's sum."""
    pos, neg = torch.tensor([0.0]), torch.tensor([[1.0, 0.0]])
    assert MSE()(pos, neg).item() == MSE()(pos, torch.cat([neg, neg], dim=1)).item() == 0.75


def test_gradcheck() -> None:
    pos = torch.randn(3, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True, True], [False] * 4, [True] * 4])
    assert torch.autograd.gradcheck(lambda p, n: MSE(reduction="sum")(p, n, mask), (pos, neg))
