"""collapse_stats, score_stats, effective_rank and standardize_scores on hand-made inputs."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank.errors import MarginRankError
from marginrank.guards import collapse_stats, effective_rank, score_stats, standardize_scores


def test_effective_rank_hand_cases():
    line = torch.outer(torch.arange(1.0, 6.0), torch.tensor([1.0, -2.0, 0.5]))
    assert effective_rank(line) == pytest.approx(1.0)
    assert effective_rank(torch.eye(4)) == pytest.approx(4.0)
    # singular values 3 and 1: p = (0.75, 0.25), exp(entropy)
    p = np.array([0.75, 0.25])
    assert effective_rank(torch.diag(torch.tensor([3.0, 1.0]))) == pytest.approx(math.exp(-(p * np.log(p)).sum()))
    assert effective_rank(torch.zeros(3, 2)) == 0.0


def test_constant_scores_have_zero_spread():
    users = torch.tensor([[1.0, 0.0], [2.0, 0.0]])
    items = torch.tensor([[0.5, 1.0], [0.5, -3.0], [0.5, 2.0]])  # every user sees 0.5 * u0 for every item
    stats = collapse_stats(users, items, sp.csr_matrix(np.array([[1, 0, 0], [0, 1, 1]])))
    assert stats["spread"] == 0.0 and stats["relative_spread"] == 0.0
    assert stats["gap"] == 0.0 and stats["standardized_gap"] == 0.0


def test_collapse_stats_against_hand_computation():
    users = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    items = torch.tensor([[2.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    positives = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 0]]))  # user 1 has no positive: no gap
    stats = collapse_stats(users, items, positives)
    scores = np.array([[2.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    assert stats["spread"] == pytest.approx(scores.std(axis=1).mean())
    assert stats["mean_abs_score"] == pytest.approx(np.abs(scores).mean())
    assert stats["gap"] == pytest.approx(2.0 - 0.5)
    assert stats["standardized_gap"] == pytest.approx(1.5 / scores[0].std())
    assert stats["item_norm"] == pytest.approx((2 + 1 + math.sqrt(2)) / 3)
    assert stats["users_with_positives"] == 1.0


def test_random_vectors_have_scale_free_spread():
    torch.manual_seed(0)
    users, items = torch.randn(50, 16), torch.randn(300, 16)
    positives = sp.random(50, 300, density=0.05, format="csr", random_state=0)
    big, tiny = collapse_stats(users, items, positives), collapse_stats(users * 1e-4, items * 1e-4, positives)
    assert big["relative_spread"] == pytest.approx(tiny["relative_spread"], rel=1e-6)
    assert 1.0 < big["relative_spread"] < 1.5
    assert tiny["spread"] == pytest.approx(big["spread"] * 1e-8, rel=1e-6)


def test_score_stats_hand_case():
    pos = torch.tensor([3.0, 0.0])
    neg = torch.tensor([[1.0, 2.0], [0.0, 1.0]])
    stats = score_stats(pos, neg)
    assert stats["gap"] == pytest.approx(((3 - 1.5) + (0 - 0.5)) / 2)
    assert stats["hardest_gap"] == pytest.approx(((3 - 2) + (0 - 1)) / 2)
    assert stats["pairwise_accuracy"] == pytest.approx((1 + 1 + 0.5 + 0) / 4)
    assert stats["spread"] == pytest.approx((np.std([3, 1, 2]) + np.std([0, 0, 1])) / 2)


def test_standardize_scores_preserves_order_and_fixes_spread():
    torch.manual_seed(0)
    pos, neg = torch.randn(5) * 1e-3, torch.randn(5, 7) * 1e-3
    z_pos, z_neg = standardize_scores(pos, neg)
    candidates, z = torch.cat([pos[:, None], neg], 1), torch.cat([z_pos[:, None], z_neg], 1)
    assert torch.equal(candidates.argsort(dim=1), z.argsort(dim=1))
    assert torch.allclose(z.std(dim=1, correction=0), torch.ones(5), atol=1e-4)
    # shrinking every score leaves the standardized scores unchanged
    assert torch.allclose(standardize_scores(pos * 1e-3, neg * 1e-3)[1], z_neg, atol=1e-3)


def test_bad_inputs():
    with pytest.raises(MarginRankError, match="positives"):
        collapse_stats(torch.randn(2, 3), torch.randn(4, 3), sp.csr_matrix((3, 4)))
    with pytest.raises(MarginRankError, match="width"):
        collapse_stats(torch.randn(2, 3), torch.randn(4, 2), sp.csr_matrix((2, 4)))
    with pytest.raises(MarginRankError, match="NaN"):
        score_stats(torch.tensor([float("nan")]), torch.zeros(1, 2))
