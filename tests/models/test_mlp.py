"""MLPScorer: shapes, the bounded head, input checks."""

from __future__ import annotations

import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.models import MLPScorer


def test_linear_scorer_is_an_affine_map():
    torch.manual_seed(0)
    scorer = MLPScorer(4, hidden=())
    x = torch.randn(3, 5, 4)
    expected = x @ scorer.head.weight[0] + scorer.head.bias[0]
    assert scorer(x).shape == (3, 5)
    assert torch.allclose(scorer(x), expected, atol=1e-6)


def test_normalized_head_is_bounded_and_scale_free():
    torch.manual_seed(0)
    scorer = MLPScorer(6, hidden=(8,), activation="tanh", normalize_output=True, output_scale=3.0)
    x = torch.randn(100, 6)
    scores = scorer(x)
    assert scores.abs().max() <= 3.0 + 1e-5
    hidden = scorer.body(x)
    w = scorer.head.weight[0]
    assert torch.allclose(scores, 3.0 * (hidden @ w) / (hidden.norm(dim=1) * w.norm()), atol=1e-5)
    with torch.no_grad():
        scorer.head.weight.mul_(1e-3)  # shrinking the head no longer shrinks the scores
    assert torch.allclose(scorer(x), scores, atol=1e-5)


def test_bad_input():
    with pytest.raises(MarginRankError, match="expected items"):
        MLPScorer(4)(torch.randn(2, 3))
    with pytest.raises(MarginRankError, match="activation"):
        MLPScorer(4, activation="swish")
    with pytest.raises(MarginRankError, match="widths"):
        MLPScorer(4, hidden=(0,))
