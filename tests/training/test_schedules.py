import math
from functools import partial

import pytest
import torch

from marginrank import Recommender, datasets
from marginrank.errors import MarginRankError
from marginrank.training import cosine_decay

from .test_trainer import make_trainer


def rates_over(total_steps: int, steps: int, lr: float = 0.1, min_lr: float = 0.001) -> list[float]:
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=lr)
    schedule = cosine_decay(optimizer, total_steps, min_lr)
    rates = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps):
        optimizer.step()
        schedule.step()
        rates.append(optimizer.param_groups[0]["lr"])
    return rates


def test_cosine_decay_follows_the_half_cosine_then_holds_min_lr():
    rates = rates_over(total_steps=8, steps=12)
    # hand-worked: 0.001 + 0.099 * (1 + cos(pi t / 8)) / 2
    assert rates[0] == pytest.approx(0.1)
    assert rates[2] == pytest.approx(0.001 + 0.099 * (1 + math.sqrt(0.5)) / 2)
    assert rates[4] == pytest.approx(0.0505)
    assert rates[8] == pytest.approx(0.001)
    assert rates[9:] == pytest.approx([0.001] * 4)  # no restart after the last step
    assert all(a > b for a, b in zip(rates[:8], rates[1:9]))


def test_cosine_decay_anneals_each_group_from_its_own_rate():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    optimizer = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}])
    schedule = cosine_decay(optimizer, total_steps=4, min_lr=0.001)
    for _ in range(2):
        optimizer.step()
        schedule.step()
    assert [g["lr"] for g in optimizer.param_groups] == pytest.approx([0.0505, 0.0055])


@pytest.mark.parametrize(
    ("total_steps", "min_lr", "message"),
    [(0, 0.0, "at least 1 step, got 0"), (10, 0.5, "min_lr 0.5 is above the learning rate 0.1")],
)
def test_cosine_decay_bad_arguments(total_steps, min_lr, message):
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=0.1)
    with pytest.raises(MarginRankError, match=message):
        cosine_decay(optimizer, total_steps, min_lr)


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=300, n_items=150, mean_items_per_user=20)


def cosine_trainer(data, run_dir, epochs):
    steps_per_epoch = len(make_trainer(data).task)
    schedule = partial(cosine_decay, total_steps=epochs * steps_per_epoch, min_lr=1e-4)
    return make_trainer(data, run_dir=run_dir, patience=None, scheduler=schedule), steps_per_epoch


def test_the_trainer_steps_a_per_step_schedule_and_resumes_it(data, tmp_path):
    straight, steps_per_epoch = cosine_trainer(data, tmp_path / "straight", epochs=4)
    result = straight.fit(epochs=4)
    expected = [1e-4 + (1e-2 - 1e-4) * (1 + math.cos(math.pi * e / 4)) / 2 for e in (1, 2, 3, 4)]
    assert [r["lr"] for r in result.history] == pytest.approx(expected)

    interrupted, _ = cosine_trainer(data, tmp_path / "resumed", epochs=4)
    interrupted.fit(epochs=2)
    resumed, _ = cosine_trainer(data, tmp_path / "resumed", epochs=4)
    again = resumed.fit(epochs=4, resume=True)
    assert [r["lr"] for r in again.history] == [r["lr"] for r in result.history]
    assert [r["loss"] for r in again.history] == [r["loss"] for r in result.history]
    assert resumed.scheduler.last_epoch == 4 * steps_per_epoch
    # a resumed run keeps the schedule it started with, even when asked for more epochs
    extended, _ = cosine_trainer(data, tmp_path / "resumed", epochs=8)
    extended.fit(epochs=5, resume=True)
    assert extended.history[-1]["lr"] == pytest.approx(1e-4)


def test_restore_best_on_a_per_step_schedule_is_refused(data):
    trainer = make_trainer(data)
    with pytest.raises(MarginRankError, match="restore_best_on_lr_cut acts on the cuts of a ReduceLROnPlateau"):
        make_trainer(data, restore_best_on_lr_cut=True, scheduler=cosine_decay(trainer.optimizer, 10))


def test_recommender_cosine_runs_down_to_min_lr_without_an_evaluator():
    data = datasets.load("synthetic", n_users=200, n_items=100, mean_items_per_user=10)
    rec = Recommender(
        loss="bsl", negatives=20, epochs=3, lr=1e-2, min_lr=1e-4, lr_schedule="cosine", protocol="none", progress=False,
    ).fit(data.train)
    rates = [r["lr"] for r in rec.result_.history]
    assert rates[0] == pytest.approx(1e-4 + (1e-2 - 1e-4) * 0.75)
    assert rates[-1] == pytest.approx(1e-4)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"lr_schedule": "step"}, "lr_schedule must be one of plateau, cosine; got 'step'"),
        ({"lr_schedule": "cosine", "lr_patience": 3}, "lr_patience drives the plateau schedule; unset it"),
        ({"lr_schedule": "cosine", "restore_best_on_lr_cut": True}, "restore_best_on_lr_cut acts on the plateau"),
        ({"lr_schedule": "cosine", "lr": 1e-4, "min_lr": 1e-3}, "min_lr 0.001 is above lr 0.0001"),
    ],
)
def test_bad_schedule_settings(params, message):
    with pytest.raises(MarginRankError, match=message):
        Recommender(**params)
