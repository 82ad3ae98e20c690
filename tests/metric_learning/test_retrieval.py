"""Retrieval metrics on hand-worked cases."""

from __future__ import annotations

import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.metrics.retrieval import retrieval_metrics


def test_leave_one_out_hand_worked() -> None:
    # 1-D points; labels 0,0,1,0,1. Euclidean neighbours of each query (itself left out):
    #   q0 (0.0): 1(0.1) rel, 2(1.0), 4(2.0), 3(3.0) rel    R=2: P@1 1, R-prec 1/2, MAP@R (1)/2
    #   q1 (0.1): 0 rel, 2, 4, 3 rel                         R=2: 1, 1/2, 1/2
    #   q2 (1.0): 1(0.9), 0(1.0), 4(1.0) rel, 3(2.0)         R=1: 0, 0, 0   (tie 0/4: lower index first)
    #   q3 (3.0): 4(1.0), 2(2.0), 1(2.9) rel, 0(3.0) rel     R=2: 0, 0, 0
    #   q4 (2.0): 2(1.0) rel, 1, 0, 3                        R=1: 1, 1, 1
    x = torch.tensor([[0.0], [0.1], [1.0], [3.0], [2.0]])
    m = retrieval_metrics(x, torch.tensor([0, 0, 1, 0, 1]), similarity="euclidean", ks=(1, 3))
    assert m["precision@1"] == pytest.approx(3 / 5)
    assert m["r_precision"] == pytest.approx((0.5 + 0.5 + 0 + 0 + 1) / 5)
    assert m["map@r"] == pytest.approx((0.5 + 0.5 + 0 + 0 + 1) / 5)
    assert m["recall@1"] == pytest.approx(3 / 5)
    assert m["recall@3"] == 1.0  # q2 finds 4 at rank 3, q3 finds 1 at rank 3
    assert m["queries"] == 5


def test_map_at_r_rewards_order_within_r() -> None:
    # one query, gallery ranked: rel, non, rel, rel (R = 3): MAP@R = (1/1 + 2/3) / 3, R-precision 2/3
    gallery = torch.tensor([[0.9], [0.8], [0.7], [0.6]])
    m = retrieval_metrics(torch.tensor([[1.0]]), torch.tensor([0]), gallery, torch.tensor([0, 1, 0, 0]),
                          similarity="dot", ks=(2,))
    assert m["map@r"] == pytest.approx((1 + 2 / 3) / 3)
    assert m["r_precision"] == pytest.approx(2 / 3)
    assert m["precision@1"] == 1.0 and m["recall@2"] == 1.0


def test_queries_without_relevant_references_are_left_out_and_none_is_an_error() -> None:
    m = retrieval_metrics(torch.tensor([[0.0], [1.0], [5.0]]), torch.tensor([0, 0, 1]), similarity="euclidean", ks=(1,))
    assert m["queries"] == 2 and m["map@r"] == 1.0
    with pytest.raises(MarginRankError, match="no query"):
        retrieval_metrics(torch.tensor([[0.0], [1.0]]), torch.tensor([0, 1]), ks=(1,))
