from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank import datasets, losses
from marginrank.errors import MarginRankError
from marginrank.models import MF
from marginrank.sampling import UniformSampler
from marginrank.training import Evaluator, InteractionTask, TopKQuantile, TopKRefresh, Trainer


class Factors:
    """A scorer with fixed vectors: scores = users @ items.T under its one similarity."""

    similarity = "dot"

    def __init__(self, users: torch.Tensor, items: torch.Tensor) -> None:
        self.users, self.items = users, items

    def user_factors(self, similarity: str | None = None) -> torch.Tensor:
        assert similarity in (None, self.similarity)
        return self.users

    def item_factors(self, similarity: str | None = None) -> torch.Tensor:
        assert similarity in (None, self.similarity)
        return self.items


def planted(n_users: int = 9, n_items: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    model = Factors(torch.tensor(rng.normal(size=(n_users, 4))), torch.tensor(rng.normal(size=(n_items, 4))))
    positives = sp.random(n_users, n_items, density=0.2, format="csr", random_state=seed)
    positives.data[:] = 1
    return model, positives


def brute_force(model: Factors, positives: sp.csr_matrix, k: int, samples: int, seed: int) -> np.ndarray:
    """Per user, in plain numpy: the K-th highest of its positives' scores and its non-positive draws
    (one draw of ``samples`` items for all users, replayed from the same generator)."""
    n_users, n_items = positives.shape
    draws = torch.randint(n_items, (samples,), generator=torch.Generator().manual_seed(seed)).numpy()
    scores = (model.users @ model.items.T).numpy()
    dense = positives.toarray() > 0
    out = []
    for u in range(n_users):
        candidates = [scores[u, i] for i in range(n_items) if dense[u, i]]
        candidates += [scores[u, j] for j in draws if not dense[u, j]]
        out.append(sorted(candidates, reverse=True)[min(k, len(candidates)) - 1])
    return np.array(out)


@pytest.mark.parametrize(("k", "samples"), [(1, 5), (5, 30), (20, 20)])
def test_thresholds_match_a_brute_force_estimate(k: int, samples: int) -> None:
    model, positives = planted()
    quantile = TopKQuantile(positives.shape[0], k=k, samples=samples)
    quantile.refresh(model, positives, torch.Generator().manual_seed(5))
    np.testing.assert_allclose(quantile.thresholds.numpy(), brute_force(model, positives, k, samples, 5), rtol=1e-6)


def test_thresholds_do_not_depend_on_the_chunk_size() -> None:
    model, positives = planted(n_users=50)
    whole, chunked = TopKQuantile(50, k=3, samples=10), TopKQuantile(50, k=3, samples=10, chunk_size=7)
    whole.refresh(model, positives, torch.Generator().manual_seed(1))
    chunked.refresh(model, positives, torch.Generator().manual_seed(1))
    torch.testing.assert_close(chunked.thresholds, whole.thresholds)


def test_a_user_with_fewer_than_k_candidates_gets_its_lowest_score() -> None:
    """Every item is a positive of user 0, so every draw is left out: its 4 positives are all the
    candidates, and all of them are in its top K."""
    model, _ = planted(n_users=2, n_items=4)
    positives = sp.csr_matrix(np.array([[1, 1, 1, 1], [0, 1, 0, 0]]))
    quantile = TopKQuantile(2, k=6, samples=6)
    quantile.refresh(model, positives, torch.Generator().manual_seed(0))
    assert quantile.thresholds[0] == pytest.approx(float((model.users[0] @ model.items.T).min()))
    assert torch.isfinite(quantile.thresholds).all()


def test_schedule_state_and_bad_arguments() -> None:
    quantile = TopKQuantile(3, every=20)
    assert torch.equal(quantile.thresholds, torch.zeros(3))  # Algorithm C.1 starts every threshold at 0
    assert [epoch for epoch in range(1, 61) if quantile.due(epoch)] == [20, 40, 60]
    quantile.thresholds = torch.tensor([0.1, 0.2, 0.3])
    restored = TopKQuantile(3)
    restored.load_state_dict(quantile.state_dict())
    assert torch.equal(restored.thresholds, quantile.thresholds)
    with pytest.raises(MarginRankError, match="do not fit 4 users"):
        TopKQuantile(4).load_state_dict(quantile.state_dict())
    with pytest.raises(MarginRankError, match="at least k = 20 sampled items"):
        TopKQuantile(3, k=20, samples=10)
    with pytest.raises(MarginRankError, match="every must be an integer >= 1"):
        TopKQuantile(3, every=0)
    model, positives = planted(n_users=4)
    with pytest.raises(MarginRankError, match="the positives have 4 users"):
        quantile.refresh(model, positives, torch.Generator())


# ---------------------------------------------------------------------------- in the trainer
@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=300, n_items=150, mean_items_per_user=20)


def weighted_trainer(data, run_dir=None, *, quantile=True, loss=None):
    torch.manual_seed(0)
    model = MF(data.n_users, data.n_items, 16)
    thresholds = TopKQuantile(data.n_users, k=5, samples=50, every=2) if quantile else None
    sampler = UniformSampler(data.n_items, 20, exclude=data.train.matrix, seed=0)
    return Trainer(
        model,
        InteractionTask(data.train, sampler, batch_size=256, top_k_quantile=thresholds),
        loss or losses.TopKWeighted(losses.SampledSoftmax(0.1)),
        torch.optim.Adam(model.parameters(), lr=1e-2),
        evaluator=Evaluator(data.train.matrix, data.test.matrix),
        callbacks=[TopKRefresh(thresholds, data.train.matrix)] if quantile else [],
        run_dir=run_dir,
        progress=False,
    )


def test_the_trainer_refreshes_the_thresholds_on_schedule_and_resumes_them(data, tmp_path):
    trainer = weighted_trainer(data)
    trainer.fit(epochs=1)
    assert torch.equal(trainer.task.top_k_quantile.thresholds, torch.zeros(data.n_users))  # first refresh before epoch 2
    trainer.fit(epochs=2)
    assert [("threshold_seconds" in record) for record in trainer.history] == [False, True]
    users = np.unique(data.train.users)
    assert (trainer.task.top_k_quantile.thresholds[users] > 0).float().mean() > 0.9  # the top 5 of a trained model score > 0
    whole = weighted_trainer(data, tmp_path / "whole")
    whole.fit(epochs=4)
    interrupted = weighted_trainer(data, tmp_path / "resumed")
    interrupted.fit(epochs=3)
    resumed = weighted_trainer(data, tmp_path / "resumed")
    resumed.fit(epochs=4, resume=True)
    torch.testing.assert_close(resumed.task.top_k_quantile.thresholds, whole.task.top_k_quantile.thresholds)
    torch.testing.assert_close(resumed.model.state_dict(), whole.model.state_dict())
    unweighted = weighted_trainer(data, tmp_path / "whole", quantile=False, loss=losses.SampledSoftmax(0.1))
    with pytest.raises(MarginRankError, match="top-K"):
        weighted_trainer(data, tmp_path / "whole").load_state_dict(unweighted.state_dict())


@pytest.mark.parametrize(
    ("quantile", "loss", "message"),
    [(False, None, "weighs by top-K thresholds: give the task a TopKQuantile"),
     (True, losses.SampledSoftmax(0.1), "top-K thresholds go with a top-K weighted loss")],
)
def test_a_weighted_loss_and_thresholds_come_together(data, quantile, loss, message):
    with pytest.raises(MarginRankError, match=message):
        weighted_trainer(data, quantile=quantile, loss=loss)
