"""CollapseMonitor: fires on planted collapses, stays silent on healthy runs (including init)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank.datasets import make_synthetic
from marginrank.errors import MarginRankError
from marginrank.guards import CollapseMonitor
from marginrank.models import MF
from tests.models.test_mf import train_ccl


def lowest_items(users: torch.Tensor, items: torch.Tensor, count: int) -> sp.csr_matrix:
    """Positives planted where the model scores lowest: the gap is negative."""
    order = torch.argsort(users @ items.T, dim=1)[:, :count].numpy()
    rows = np.repeat(np.arange(len(users)), count)
    return sp.csr_matrix((np.ones(rows.size), (rows, order.ravel())), shape=(len(users), len(items)))


def test_fires_when_vectors_shrink_and_positives_are_not_ranked():
    torch.manual_seed(0)
    users, items = torch.randn(40, 8), torch.randn(100, 8)
    positives = lowest_items(users, items, 5)
    monitor = CollapseMonitor()
    reports = [monitor.check(users * scale, items * scale, positives, epoch) for epoch, scale in enumerate([1, 0.5, 0.35, 0.05])]
    assert [r.collapsed for r in reports] == [False, False, False, True]  # 0.35^2: fell 8x; 0.05^2: fell 400x
    message = reports[-1].message
    assert "fell 400x" in message and "no higher than other items" in message and 'similarity = "cosine"' in message
    assert "--" not in message


def test_shrinking_with_ranked_positives_is_not_collapse_until_severe():
    torch.manual_seed(0)
    users, items = torch.randn(40, 8), torch.randn(100, 8)
    positives = sp.csr_matrix(lowest_items(-users, items, 5))  # the highest-scoring items
    monitor = CollapseMonitor()
    assert not any(monitor.check(users * s, items * s, positives, e).collapsed for e, s in enumerate([1, 0.2, 0.05]))
    assert monitor.check(users * 0.02, items * 0.02, positives, 3).collapsed  # 2500x: vanishing scores


def test_fires_on_items_collapsed_to_one_direction():
    torch.manual_seed(0)
    users = torch.randn(30, 16)
    items = torch.randn(16) + 1e-6 * torch.randn(200, 16)
    report = CollapseMonitor().check(users, items, sp.random(30, 200, density=0.05, format="csr", random_state=0), 1)
    assert report.collapsed
    assert any("nearly equal" in reason for reason in report.reasons)
    assert any("effective rank 1.00" in reason for reason in report.reasons)


def test_silent_on_healthy_mf_from_tiny_init(one_thread):
    data = make_synthetic(n_users=1000, n_items=500)
    for similarity in ("cosine", "dot"):
        torch.manual_seed(0)
        assert not CollapseMonitor().check_model(MF(1000, 500, 32, similarity=similarity), data.train.matrix, 0).collapsed
    monitor = CollapseMonitor()
    for epochs in (1, 3, 6):
        report = monitor.check_model(train_ccl(data, epochs), data.train.matrix, epochs)
        assert not report.collapsed, report.message
    assert report.stats["standardized_gap"] > 0.5 and report.stats["effective_rank"] > 10


def test_score_path_margin_criterion():
    torch.manual_seed(0)
    pos, neg = torch.randn(200) + 0.5, torch.randn(200, 10)
    monitor = CollapseMonitor()
    assert not monitor.check_scores(pos, neg, 1, margin=1.0).collapsed
    shrunk = monitor.check_scores(pos * 1e-3 + 0.7, neg * 1e-3 + 0.7, 2, margin=1.0)
    assert shrunk.collapsed and "far less than the margin" in shrunk.message
    assert monitor.history[-1][0] == 2 and len(monitor.history) == 2
    assert CollapseMonitor(margin=1.0).check_scores(pos * 1e-3, neg * 1e-3, 1).collapsed  # the monitor's own margin


def test_embedding_margin_criterion_needs_unranked_positives():
    torch.manual_seed(0)
    users, items = torch.randn(40, 8), torch.randn(100, 8)
    unranked, ranked = lowest_items(users, items, 5), lowest_items(-users, items, 5)
    tiny = 1e-3  # scores ~1e-6: far below 1% of a margin of 1
    at_margin = CollapseMonitor(margin=1.0).check(users * tiny, items * tiny, unranked, 1)
    assert at_margin.collapsed and "so the loss sits at the margin" in at_margin.message
    assert not CollapseMonitor(margin=1.0).check(users * tiny, items * tiny, ranked, 1).collapsed  # a model growing from a tiny init
    assert not CollapseMonitor().check(users * tiny, items * tiny, unranked, 1).collapsed  # no margin: no scale to judge by
    assert not CollapseMonitor(margin=1.0).check(users, items, unranked, 1).collapsed  # spread ~3: not at the margin


def test_select_users_is_fixed_and_skips_users_without_items():
    train = sp.csr_matrix(np.diag([1, 0, 1, 1, 0, 1]).astype(float))
    monitor = CollapseMonitor(n_users=3, seed=1)
    first = monitor.select_users(train)
    assert len(first) == 3 and set(first) <= {0, 2, 3, 5}
    assert np.array_equal(first, monitor.select_users(train))


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"margin_gap": -0.5}, "margin_gap must be >= 0, got -0.5"),
        ({"margin_gap": "0.5"}, "margin_gap must be a finite number, got '0.5'"),
        ({"max_gap": float("nan")}, "max_gap must be a finite number, got nan"),
        ({"shrink_factor": 0}, "shrink_factor must be > 0, got 0"),
    ],
)
def test_bad_thresholds_are_clear_errors(options, message):
    with pytest.raises(MarginRankError, match=message):
        CollapseMonitor(**options)
