import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank.metrics import topk_metrics
from marginrank.metrics import full_ranking
from marginrank.metrics.top_k import top_k


def blocked_rows(seed, n_rows=40, n_columns=3001, levels=None):
    """Rows long enough for the block path, with optional ties (``levels`` distinct values) and masked columns."""
    generator = torch.Generator().manual_seed(seed)
    scores = torch.randn(n_rows, n_columns, generator=generator)
    if levels:
        scores = torch.randint(0, levels, (n_rows, n_columns), generator=generator).float()
    scores[torch.rand(n_rows, n_columns, generator=generator) < 0.3] = -torch.inf
    return scores


@pytest.mark.parametrize("levels", [None, 50, 3])
@pytest.mark.parametrize("k", [1, 11, 21])
@pytest.mark.parametrize("block", [8, 64])
def test_values_are_those_of_a_full_sort_and_columns_hold_them(levels, k, block):
    scores = blocked_rows(k, levels=levels)
    values, columns = top_k(scores, k, block=block)
    expected = torch.sort(scores, dim=1, descending=True).values[:, :k]
    assert torch.equal(values, expected)
    assert torch.equal(scores.gather(1, columns), values)
    assert all(len(set(row)) == k for row in columns.tolist())
    assert int(columns.max()) < scores.shape[1]


def test_rows_with_fewer_finite_scores_than_k_keep_their_finite_ones_first():
    scores = torch.full((2, 1000), -torch.inf)
    scores[0, 999] = 2.0  # in the partial last block
    scores[0, 3] = 1.0
    values, columns = top_k(scores, 5, block=16)
    assert values[0, :2].tolist() == [2.0, 1.0] and columns[0, :2].tolist() == [999, 3]
    assert torch.isinf(values[0, 2:]).all() and torch.isinf(values[1]).all()


def test_full_ranking_metrics_equal_those_from_a_plain_topk(monkeypatch):
    rng = np.random.default_rng(0)
    n_users, n_items = 80, 6000
    scores = np.round(rng.normal(size=(n_users, n_items)) * 4)  # many ties, some across the cut-off
    train = sp.csr_matrix((rng.random((n_users, n_items)) < 0.05).astype(np.float32))
    test = sp.csr_matrix(((rng.random((n_users, n_items)) < 0.01) & (train.toarray() == 0)).astype(np.float32))
    results = {}
    for ties in ("random", "pessimistic"):
        results[ties] = topk_metrics(scores, train, test, (5, 20), ties=ties)
    monkeypatch.setattr(full_ranking, "top_k", lambda scores, k: torch.topk(scores, k, dim=1))
    for ties, blocked in results.items():
        assert blocked == topk_metrics(scores, train, test, (5, 20), ties=ties)
