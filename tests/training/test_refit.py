"""``refit``: after the validation protocol picks the best epoch, retrain on every training pair."""

import json

import numpy as np
import pytest
import torch

from marginrank import Recommender, datasets
from marginrank import recommender as recommender_module
from marginrank.models.mf import MF
from marginrank.training import Evaluator, InteractionTask, LearningRateReplay, Trainer

# the plateau schedule cuts the rate three times in these 8 epochs, and the best epoch is the last
# a normal init, so that training moves the model and the refit has epochs to replay
SETTINGS = dict(epochs=8, negatives=30, shared_negatives=False, exclude_positives=True, batch_size=512, lr=0.01,
                lr_patience=0, lr_factor=0.5, patience=None, seed=1, progress=False, model_params={"init": "normal"})


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=600, n_items=300)


def fit_recording(data, **settings):
    """``(recommender, events)``: the pairs each training task is built on, each evaluation (on the
    test split or not) and each end of a training run, in order."""
    events = []

    class RecordingEvaluator(Evaluator):
        def __call__(self, model):
            events.append(("evaluate", "test" if self.target is data.test.matrix else "held out"))
            return super().__call__(model)

    def task(fit_on, *args, **kwargs):
        events.append(("train on", fit_on.matrix))
        return InteractionTask(fit_on, *args, **kwargs)

    fit = Trainer.fit

    def recorded_fit(trainer, *args, **kwargs):
        result = fit(trainer, *args, **kwargs)
        events.append(("trained", result.epochs_trained))
        return result

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(recommender_module, "Evaluator", RecordingEvaluator)
        patch.setattr(recommender_module, "InteractionTask", task)
        patch.setattr(Trainer, "fit", recorded_fit)
        return Recommender(**settings).fit(data), events


@pytest.fixture(scope="module")
def selected(data):
    return Recommender(**SETTINGS).fit(data)


@pytest.fixture(scope="module")
def refit(data):
    return fit_recording(data, refit=True, **SETTINGS)


def same_pairs(a, b):
    return a.shape == b.shape and (a.astype(bool) != b.astype(bool)).nnz == 0


def test_the_refit_trains_on_every_training_pair_and_reads_the_test_split_once_at_the_end(data, refit):
    rec, events = refit
    fit_on, validation = rec.selection_split(data.train, data.test)
    (selection_task, *selection_evaluations, selection_end, refit_task, refit_end, final) = events
    assert selection_task[0] == "train on" and same_pairs(selection_task[1], fit_on.matrix)
    assert selection_evaluations == [("evaluate", "held out")] * (1 + SETTINGS["epochs"])  # the start, then each epoch
    assert selection_end == ("trained", SETTINGS["epochs"])
    assert refit_task[0] == "train on" and same_pairs(refit_task[1], data.train.matrix)
    assert (refit_task[1].multiply(validation.matrix)).nnz == validation.matrix.nnz > 0  # the validation pairs are trained on
    assert refit_end == ("trained", rec.result_.best_epoch)
    assert final == ("evaluate", "test")


def test_the_refit_runs_the_selected_epochs_at_the_selection_runs_learning_rates(data, refit):
    rec = refit[0]
    best = rec.result_.best_epoch
    rates = [record["lr"] for record in rec.result_.trained[:best]]
    assert len(set(rates)) > 1  # the schedule did cut the rate: there is something to replay
    assert [record["lr"] for record in rec.refit_result_.history] == rates
    assert [record["epoch"] for record in rec.refit_result_.history] == list(range(1, best + 1))
    assert all("metrics" not in record for record in rec.refit_result_.history)
    assert rec.metrics_["refit"] == {"epochs": best, "pairs": len(data.train)}
    assert rec.metrics_["best_epoch"] == best and rec.metrics_["selection"] == rec.result_.best_metrics


def test_a_cosine_refit_ends_each_epoch_at_the_selection_runs_rate(data):
    settings = {**SETTINGS, "epochs": 3, "lr_schedule": "cosine", "lr_patience": None, "min_lr": 1e-4}
    rec = Recommender(refit=True, **settings).fit(data)
    selected = [record["lr"] for record in rec.result_.trained[: rec.result_.best_epoch]]
    assert [record["lr"] for record in rec.refit_result_.history] == pytest.approx(selected, rel=1e-9)


def validation_lift(rec, validation):
    """Mean score of the validation pairs above their user's mean score over all items."""
    users, items = validation.matrix.nonzero()
    with torch.no_grad():
        scores = rec.model.score_all(torch.from_numpy(np.unique(users))).numpy()
    rows = np.searchsorted(np.unique(users), users)
    return float(np.mean(scores[rows, items] - scores.mean(axis=1)[rows]))


def test_the_refit_ranks_validation_and_test_pairs_higher(data, selected, refit):
    """Measured here: Recall@20 0.0769 without the refit, 0.0842 with it."""
    rec = refit[0]
    validation = rec.selection_split(data.train, data.test)[1]
    assert validation_lift(rec, validation) > 1.2 * validation_lift(selected, validation)
    assert rec.metrics_["recall@20"] > 0.97 * selected.metrics_["recall@20"]


def test_a_refit_interrupted_midway_resumes_exactly(data, tmp_path):
    settings = {**SETTINGS, "epochs": 3, "lr_patience": None}
    straight = Recommender(refit=True, **settings).fit(data)
    last = straight.result_.best_epoch
    assert last >= 2
    replay = LearningRateReplay.on_epoch_start
    started = []

    def interrupted(callback, model, epoch, seeds):
        if epoch == last:
            raise KeyboardInterrupt
        return replay(callback, model, epoch, seeds)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LearningRateReplay, "on_epoch_start", interrupted)
        with pytest.raises(KeyboardInterrupt):
            Recommender(refit=True, **settings).fit(data, run_dir=tmp_path)
    assert not (tmp_path / "metrics.json").exists()

    def counted(callback, model, epoch, seeds):
        started.append(epoch)
        return replay(callback, model, epoch, seeds)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(LearningRateReplay, "on_epoch_start", counted)
        resumed = Recommender(refit=True, **settings).fit(data, run_dir=tmp_path, resume=True)
    assert started == [last]  # neither the selection run nor the refit's first epochs trained again
    assert resumed.metrics_["recall@20"] == straight.metrics_["recall@20"]
    log = [json.loads(line) for line in (tmp_path / "refit" / "log.jsonl").read_text().splitlines()]
    assert [record["loss"] for record in log] == [record["loss"] for record in straight.refit_result_.history]
    assert {record["phase"] for record in log} == {"refit"}
    selection_log = [json.loads(line) for line in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert {record["phase"] for record in selection_log} == {"selection"}


def test_a_start_that_no_epoch_beats_is_kept_and_refit_without_training(data):
    """A learning rate far too high: every epoch ranks worse than the low-pass start (epoch 0), so the
    start is the best epoch, the refit trains no epoch, and the final model is the start built on all
    training pairs."""
    settings = {**SETTINGS, "model_params": {}, "epochs": 2, "lr": 5.0, "lr_patience": None, "collapse_check": False}
    rec = Recommender(refit=True, **settings).fit(data)
    start, *trained = rec.result_.history
    assert start["epoch"] == 0 and all(r["metrics"]["recall@20"] < start["metrics"]["recall@20"] for r in trained)
    assert rec.result_.best_epoch == 0 and rec.metrics_["refit"] == {"epochs": 0, "pairs": len(data.train)}
    torch.manual_seed(SETTINGS["seed"])
    built = MF.build(data.train.matrix, dropout=0.1)
    assert torch.equal(rec.model.item_embedding.weight, built.item_embedding.weight)
