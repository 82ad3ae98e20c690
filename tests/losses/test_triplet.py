from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import Triplet


def triplet_oracle(anchor, positive, negatives, mask, margin, distance):
    def dist(a, x):
        if distance == "euclidean":
            return math.sqrt(sum((ai - xi) ** 2 for ai, xi in zip(a, x)))
        dot = sum(ai * xi for ai, xi in zip(a, x))
        return 1.0 - dot / (math.sqrt(sum(ai * ai for ai in a)) * math.sqrt(sum(xi * xi for xi in x)))

    out = []
    for b in range(anchor.shape[0]):
        d_pos = dist(anchor[b], positive[b])
        terms = [max(0.0, margin + d_pos - dist(anchor[b], negatives[b, j])) for j in range(negatives.shape[1]) if mask[b, j]]
        out.append(sum(terms) / max(len(terms), 1))
    return np.array(out)


@pytest.mark.parametrize("distance,margin", [("euclidean", 1.0), ("cosine", 0.3)])
def test_matches_numpy_oracle(distance: str, margin: float) -> None:
    gen = torch.Generator().manual_seed(3)
    anchor, positive = torch.randn(5, 4, generator=gen, dtype=torch.float64), torch.randn(5, 4, generator=gen, dtype=torch.float64)
    negatives = torch.randn(5, 6, 4, generator=gen, dtype=torch.float64)
    mask = torch.rand(5, 6, generator=gen) < 0.6
    mask[0] = False
    for m in (None, mask):
        m_np = np.ones((5, 6), bool) if m is None else m.numpy()
        expected = triplet_oracle(anchor.numpy(), positive.numpy(), negatives.numpy(), m_np, margin, distance)
        for reduction, reduce in (("none", lambda x: x), ("mean", np.mean), ("sum", np.sum)):
            got = Triplet(margin, distance, reduction)(anchor, positive, negatives, m)
            np.testing.assert_allclose(got.numpy(), reduce(expected), rtol=1e-6, atol=1e-6)


def test_gradient_is_finite_when_positive_equals_anchor() -> None:
    anchor = torch.ones(2, 3, requires_grad=True)
    Triplet()(anchor, anchor.detach().clone(), torch.zeros(2, 1, 3)).backward()
    assert torch.isfinite(anchor.grad).all()


def test_bad_shapes_and_distance() -> None:
    with pytest.raises(MarginRankError, match="negatives"):
        Triplet()(torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3))
    with pytest.raises(MarginRankError, match="distance"):
        Triplet(distance="manhattan")
