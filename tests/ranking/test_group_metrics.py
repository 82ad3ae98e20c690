"""Per-group metrics against hand-worked cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from marginrank.data.groups import RankingGroups
from marginrank.errors import MarginRankError
from marginrank.metrics.groups import group_metrics


def groups(labels, sizes):
    return RankingGroups.from_arrays(np.zeros((len(labels), 1)), labels, sizes)


def test_graded_ndcg_map_mrr_and_precision_by_hand():
    # group 1: labels [2, 0, 1], scores rank them rows 1, 0, 2 -> ranked labels [0, 2, 1]
    # group 2: labels [0, 0] has no relevant row and is skipped
    data = groups([2, 0, 1, 0, 0], [3, 2])
    scores = [0.5, 0.9, 0.1, 3.0, 2.0]
    metrics = group_metrics(scores, data, ks=(1, 2))
    dcg2 = 0 + 3 / math.log2(3)
    idcg2 = 3 + 1 / math.log2(3)
    assert metrics["ndcg@1"] == pytest.approx(0.0)
    assert metrics["ndcg@2"] == pytest.approx(dcg2 / idcg2)
    assert metrics["precision@1"] == pytest.approx(0.0)
    assert metrics["precision@2"] == pytest.approx(0.5)
    assert metrics["mrr"] == pytest.approx(0.5)
    assert metrics["map"] == pytest.approx((1 / 2 + 2 / 3) / 2)


def test_groups_are_averaged_and_ties_keep_row_order():
    data = groups([1, 0, 0, 1], [2, 2])
    metrics = group_metrics([1.0, 1.0, 1.0, 1.0], data, ks=(1,))
    # tie: group 1 ranks its relevant row first, group 2 ranks it second
    assert metrics["ndcg@1"] == pytest.approx(0.5)
    assert metrics["mrr"] == pytest.approx((1 + 0.5) / 2)


def test_cutoff_beyond_the_group_counts_missing_places_as_misses():
    metrics = group_metrics([2.0, 1.0], groups([1, 1], [2]), ks=(5,))
    assert metrics["precision@5"] == pytest.approx(2 / 5)
    assert metrics["ndcg@5"] == pytest.approx(1.0)


def test_bad_scores_are_refused():
    data = groups([1, 0], [2])
    with pytest.raises(MarginRankError, match="one score per row"):
        group_metrics([1.0], data)
    with pytest.raises(MarginRankError, match="NaN"):
        group_metrics([1.0, float("nan")], data)
    with pytest.raises(MarginRankError, match="no group has a relevant row"):
        group_metrics([1.0, 0.0], groups([0, 0], [2]))
