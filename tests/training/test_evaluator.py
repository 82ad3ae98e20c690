"""The evaluator ranks any model that scores a chunk of users against all items, not only factor models."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank import datasets
from marginrank.errors import MarginRankError
from marginrank.metrics import topk_metrics
from marginrank.models import MF
from marginrank.training import Evaluator


class FixedScores:
    """A scorer without factors: a stored users x items score matrix, read a chunk of users at a time."""

    def __init__(self, scores: torch.Tensor) -> None:
        self.scores, self.n_items, self.chunks = scores, scores.shape[1], []

    def score_all(self, users: torch.Tensor) -> torch.Tensor:
        self.chunks.append(len(users))
        return self.scores[users]


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=300, n_items=120)


def test_a_chunk_scorer_gets_the_metrics_of_its_dense_scores(data):
    scores = torch.from_numpy(np.random.default_rng(0).random((data.n_users, data.n_items)).astype(np.float32))
    scorer = FixedScores(scores)
    got = Evaluator(data.train.matrix, data.test.matrix, (5, 20), chunk_size=64)(scorer)
    want = topk_metrics(scores, data.train.matrix, data.test.matrix, (5, 20))
    assert got == pytest.approx(want) and max(scorer.chunks) == 64 and len(scorer.chunks) > 1


def test_a_factor_model_gets_the_metrics_of_its_score_all(data):
    torch.manual_seed(0)
    model = MF(data.n_users, data.n_items, 8, init_std=0.3).eval()
    by_factors = Evaluator(data.train.matrix, data.test.matrix)(model)
    by_chunks = Evaluator(data.train.matrix, data.test.matrix)(FixedScores(model.score_all(torch.arange(data.n_users))))
    assert by_factors == pytest.approx(by_chunks)


def test_a_scorer_of_the_wrong_width_or_no_scorer_is_a_clear_error(data):
    with pytest.raises(MarginRankError, match="gave \\(300, 7\\) scores for 300 users x 120 items"):
        Evaluator(data.train.matrix, data.test.matrix, chunk_size=300)(FixedScores(torch.zeros(300, 7)))
    with pytest.raises(MarginRankError, match="can neither give factors nor score users"):
        Evaluator(sp.csr_matrix(data.train.matrix), data.test.matrix)(object())
