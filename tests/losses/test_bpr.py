from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import BPR

from ._reference import assert_matches_oracle, valid


def bpr_oracle(t: float):
    def oracle(pos, neg, mask):
        out = []
        for b in range(len(pos)):
            terms = [-math.log(1.0 / (1.0 + math.exp(-(pos[b] - s) / t))) for s in valid(neg[b], mask[b])]
            out.append(sum(terms) / max(len(terms), 1))
        return np.array(out)

    return oracle


@pytest.mark.parametrize("t", [1.0, 0.3])
def test_matches_numpy_oracle(t: float) -> None:
    assert_matches_oracle(lambda r: BPR(temperature=t, reduction=r), bpr_oracle(t))


def test_huge_gap_is_finite_and_linear() -> None:
    value = BPR(reduction="none")(torch.tensor([-500.0]), torch.tensor([[500.0]]))
    assert value.item() == pytest.approx(1000.0)


def test_gradcheck() -> None:
    pos = torch.randn(3, dtype=torch.float64, requires_grad=True)
    neg = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[True, False, True, True], [False] * 4, [True] * 4])
    assert torch.autograd.gradcheck(lambda p, n: BPR(temperature=0.5)(p, n, mask), (pos, neg))


def test_temperature_must_be_positive() -> None:
    with pytest.raises(MarginRankError, match="temperature"):
        BPR(temperature=0.0)
