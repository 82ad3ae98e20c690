"""A planted class structure is recovered on held-out classes; the MetricLearner API."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from marginrank import MetricLearner
from marginrank.errors import MarginRankError
from marginrank.losses import MMCL
from marginrank.metrics.retrieval import retrieval_metrics
from marginrank.models.encoder import MLPEncoder
from marginrank.training.retrieval_evaluator import RetrievalEvaluator, embed
from marginrank.sampling.label_miners import BatchHardMiner
from marginrank.training.tasks import LabelTask
from marginrank.training.trainer import Trainer


def planted(classes: int = 16, per_class: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Classes differ in a 4-D signal subspace hidden among 28 noise dimensions of larger variance."""
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(classes, 4)) * 2.0
    labels = np.repeat(np.arange(classes), per_class)
    signal = centers[labels] + 0.3 * rng.normal(size=(len(labels), 4))
    noise = 3.0 * rng.normal(size=(len(labels), 28))
    mixing = np.linalg.qr(rng.normal(size=(32, 32)))[0]
    return (np.hstack([signal, noise]) @ mixing).astype(np.float32), labels


@pytest.mark.usefixtures("one_thread")
@pytest.mark.parametrize("loss", ["triplet", "multi-similarity", "mmcl"])
def test_a_planted_class_structure_is_recovered_on_held_out_classes(loss: str) -> None:
    x, y = planted()
    train, test = y < 10, y >= 10
    before = retrieval_metrics(torch.as_tensor(x[test]), torch.as_tensor(y[test]), similarity="euclidean")["map@r"]
    params = {"mmcl": {"margins": [0.3, 0.6], "weights": [0.5, 0.5], "neg_weight": 5.0}}.get(loss)
    learner = MetricLearner(loss=loss, loss_params=params, similarity="euclidean" if loss == "triplet" else "cosine",
                            epochs=15, classes_per_batch=8, samples_per_class=4, lr=3e-3, seed=0)
    learner.fit(x[train], y[train], validation=(x[test], y[test]))
    after = learner.evaluate(x[test], y[test])
    assert before < 0.3 and after["map@r"] > 0.6 and after["precision@1"] > 0.85
    assert not any(record.get("collapse", {}).get("collapsed") for record in learner.history_)


@pytest.mark.usefixtures("one_thread")
def test_score_losses_train_on_labels_through_the_trainer() -> None:
    x, y = planted(seed=1)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    torch.manual_seed(0)
    encoder = MLPEncoder(32, 16, (64,), normalize=True)
    task = LabelTask(x[y < 10], y[y < 10], classes_per_batch=5, samples_per_class=4, similarity="cosine")
    evaluator = RetrievalEvaluator(x[y >= 10], y[y >= 10], similarity="cosine")
    start = evaluator(encoder)["map@r"]
    trainer = Trainer(encoder, task, MMCL(margins=[0.3, 0.6], weights=[0.5, 0.5], neg_weight=5.0),
                      torch.optim.Adam(encoder.parameters(), lr=1e-2), evaluator=evaluator, monitor="map@r", progress=False)
    result = trainer.fit(12)
    assert result.best_metrics["map@r"] > max(0.5, start + 0.2)


@pytest.mark.usefixtures("one_thread")
def test_save_load_round_trip_and_resume(tmp_path) -> None:
    x, y = planted(classes=6, per_class=10)
    learner = MetricLearner(epochs=2, classes_per_batch=3, run_dir=tmp_path / "run").fit(x, y)
    learner.save(tmp_path / "model.pt")
    loaded = MetricLearner.load(tmp_path / "model.pt")
    np.testing.assert_array_equal(loaded.transform(x), learner.transform(x))
    resumed = MetricLearner(epochs=3, classes_per_batch=3, run_dir=tmp_path / "run").fit(x, y, resume=True)
    assert [record["epoch"] for record in resumed.history_] == [1, 2, 3]


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(MarginRankError, match="unknown loss"):
        MetricLearner(loss="tripple")
    with pytest.raises(MarginRankError, match="not fitted"):
        MetricLearner().transform(np.zeros((2, 3)))
    with pytest.raises(MarginRankError, match="integers"):
        MetricLearner(epochs=1).fit(np.zeros((4, 3)), np.array([0.5, 1, 0, 1]))


def test_the_optimizer_is_a_setting_kept_with_the_model(tmp_path) -> None:
    x, y = planted(classes=6, per_class=10)
    MetricLearner(epochs=1, classes_per_batch=3, optimizer="sgd", momentum=0.9, lr=0.01).fit(x, y).save(tmp_path / "model.pt")
    loaded = MetricLearner.load(tmp_path / "model.pt")
    assert (loaded.optimizer, loaded.momentum) == ("sgd", 0.9)
    with pytest.raises(MarginRankError, match="optimizer must be one of adam, sgd"):
        MetricLearner(optimizer="rmsprop")
    with pytest.raises(MarginRankError, match="momentum applies to optimizer 'sgd' only"):
        MetricLearner(momentum=0.9)


def test_a_per_anchor_task_scores_anchors_against_the_batch_and_needs_a_loss_that_works_per_anchor() -> None:
    x, y = planted(classes=6, per_class=10)
    x, y = torch.as_tensor(x), torch.as_tensor(y)
    encoder = MLPEncoder(32, 8, (16,))
    task = LabelTask(x, y, classes_per_batch=3, samples_per_class=4, per_anchor=True)
    batch = next(iter(task.batches()))
    scores = task.scores(encoder, batch, torch.device("cpu"))
    labels = y[batch]
    assert scores.neg.shape == (12, 12) and torch.equal(scores.mask, labels[:, None] != labels[None, :])
    assert torch.equal(scores.extras["pos_mask"], (labels[:, None] == labels[None, :]) & ~torch.eye(12, dtype=torch.bool))
    with pytest.raises(MarginRankError, match="works per anchor"):
        Trainer(encoder, task, MMCL(margins=[0.3], weights=[1.0]), torch.optim.Adam(encoder.parameters()), progress=False)
    with pytest.raises(MarginRankError, match="takes no miner"):
        LabelTask(x, y, miner=BatchHardMiner(), per_anchor=True)
