import io
import sys
import warnings
from functools import partial

import pytest
import torch

from marginrank import datasets, losses
from marginrank.errors import MarginRankError
from marginrank.guards import CollapseMonitor
from marginrank.models import MF
from marginrank.sampling import UniformSampler
from marginrank.training import CollapseCheck, CollapseStop, CollapseWarning, Evaluator, InteractionTask, Trainer


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=300, n_items=150, mean_items_per_user=20)


def adam(parameters):
    return torch.optim.Adam(parameters, lr=1e-2)


def make_trainer(data, *, similarity="cosine", loss=None, constraints=(), on_collapse="warn", seed=0,
                 batch_size=256, positive_sampling="pairs", optimizer=adam, **kwargs):
    """A cosine MF trainer; ``optimizer(parameters)`` builds its optimizer."""
    torch.manual_seed(seed)
    model = MF(data.n_users, data.n_items, 16, similarity=similarity, init_std=0.1 if similarity == "dot" else 1e-4)
    sampler = UniformSampler(data.n_items, 20, exclude=data.train.matrix, seed=seed)
    return Trainer(
        model,
        InteractionTask(data.train, sampler, batch_size=batch_size, positive_sampling=positive_sampling),
        loss or losses.CCL(margin=0.5, neg_weight=50),
        optimizer(model.parameters()),
        constraints=constraints,
        evaluator=Evaluator(data.train.matrix, data.test.matrix),
        seed=seed,
        **{"callbacks": [CollapseCheck(CollapseMonitor(seed=seed), data.train.matrix, on_collapse)], "progress": False, **kwargs},
    )


def shrink(model):
    """A planted collapse: every step shrinks all embeddings tenfold."""
    with torch.no_grad():
        model.user_embedding.weight.mul_(0.1)
        model.item_embedding.weight.mul_(0.1)


@pytest.mark.parametrize("eval_every", [0, -1])
def test_eval_every_below_one_is_a_clear_error(data, eval_every):
    with pytest.raises(MarginRankError, match=f"eval_every must be an integer >= 1, got {eval_every}"):
        make_trainer(data, eval_every=eval_every)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"batch_size": 512.0}, "batch size must be an integer >= 1, got 512.0"),
        ({"callbacks": CollapseCheck}, "constraints and callbacks are lists"),
        ({"clip_norm": 0.0}, "clip_norm must be > 0, got 0.0"),
        ({"clip_norm": -1.0}, "clip_norm must be > 0"),
        ({"time_limit": 0}, "time_limit must be > 0, got 0"),
        ({"constraints": shrink}, "constraints and callbacks are lists"),
        ({"positive_sampling": "items"}, "positive_sampling must be one of pairs, users; got 'items'"),
    ],
)
def test_bad_trainer_options_are_clear_errors(data, options, message):
    with pytest.raises(MarginRankError, match=message):
        make_trainer(data, **options)


def test_a_minimizing_plateau_scheduler_is_refused(data):
    trainer = make_trainer(data)
    with pytest.raises(MarginRankError, match="mode='max'"):
        make_trainer(data, scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(trainer.optimizer, mode="min"))
    minimizing = partial(torch.optim.lr_scheduler.ReduceLROnPlateau, mode="min")
    with pytest.raises(MarginRankError, match="mode='max'"):  # built with the optimizer, at once
        make_trainer(data, scheduler=minimizing)
    later = make_trainer(data, optimizer=built_later([]), scheduler=minimizing)
    with pytest.raises(MarginRankError, match="mode='max'"):  # built with the optimizer, once the first epoch needs it
        later.fit(epochs=1)


def built_later(events):
    """``make_trainer``'s ``optimizer``: a function that builds Adam when called, noting it in ``events``."""
    def on(parameters):
        parameters = list(parameters)

        def build():
            events.append("optimizer")
            return adam(parameters)
        return build
    return on


def test_an_optimizer_given_as_a_function_is_built_once_the_start_is_evaluated(data):
    events = []

    def schedule(optimizer):
        events.append("schedule")
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, mode="max", factor=0.5, patience=0)

    trainer = make_trainer(data, optimizer=built_later(events), scheduler=schedule, evaluate_start=True)
    evaluate = trainer.evaluator
    trainer.evaluator = lambda model: events.append("evaluation") or evaluate(model)
    result = trainer.fit(epochs=3)
    assert events[:3] == ["evaluation", "optimizer", "schedule"] and events.count("optimizer") == 1
    assert result.history[0]["lr"] == 1e-2
    assert result.best_epoch > 0 and result.best_metrics["recall@20"] > result.history[0]["metrics"]["recall@20"]
    assert trainer.scheduler.optimizer is trainer.optimizer


def test_a_built_scheduler_needs_its_optimizer_built(data):
    other = make_trainer(data)
    with pytest.raises(MarginRankError, match="a built scheduler needs the optimizer it was built on"):
        make_trainer(data, optimizer=built_later([]), scheduler=torch.optim.lr_scheduler.ReduceLROnPlateau(other.optimizer))


def test_a_checkpoint_is_neither_overwritten_nor_resumed_with_another_optimizer(data, tmp_path):
    make_trainer(data, run_dir=tmp_path).fit(epochs=1)
    with pytest.raises(MarginRankError, match="already holds a run's checkpoint"):
        make_trainer(data, run_dir=tmp_path).fit(epochs=2)
    other = make_trainer(data, run_dir=tmp_path, optimizer=lambda parameters: torch.optim.SGD(parameters, lr=0.1))
    with pytest.raises(MarginRankError, match="the checkpoint was trained with Adam, this trainer has SGD"):
        other.fit(epochs=2, resume=True)


def test_monitor_is_silent_on_a_healthy_run(data):
    with warnings.catch_warnings():
        warnings.simplefilter("error", CollapseWarning)
        result = make_trainer(data).fit(epochs=4)
    assert all(not record["collapse"]["collapsed"] for record in result.history)
    assert result.best_metrics["recall@20"] > 0.1


def test_monitor_warns_and_stops_on_a_planted_collapse(data):
    with pytest.warns(CollapseWarning, match="collaps"):
        make_trainer(data, similarity="dot", loss=losses.MaxMarginHinge(), constraints=[shrink]).fit(epochs=3)
    trainer = make_trainer(data, similarity="dot", loss=losses.MaxMarginHinge(), constraints=[shrink], on_collapse="stop")
    with pytest.raises(CollapseStop, match=r'^epoch \d: .*try similarity = "cosine"'):
        trainer.fit(epochs=5)
    assert trainer.history[-1]["collapse"]["collapsed"]


def frozen(trainer):
    """``trainer`` with a learning rate of zero after its first epoch: every later evaluation is stale."""
    original_step = trainer._train_epoch

    def step():
        record = original_step()
        for group in trainer.optimizer.param_groups:
            group["lr"] = 0.0
        return record

    trainer._train_epoch = step
    return trainer


def test_early_stopping_and_best_epoch(data):
    result = frozen(make_trainer(data, patience=1)).fit(epochs=10)
    assert result.stopped == "early_stopping" and len(result.history) == 2 and result.best_epoch == 1


def test_a_start_no_epoch_beats_is_kept_but_patience_counts_from_the_best_trained_epoch(data):
    """A strong start (0.9) and trained epochs that climb below it, then stall: training runs while
    the trained epochs improve, stops ``patience`` evaluations after their best, and keeps the start."""
    values = iter([0.9, 0.5, 0.6, 0.7, 0.7, 0.65, 0.8])
    trainer = make_trainer(data, patience=2, evaluate_start=True)
    trainer.evaluator = lambda model: {"recall@20": next(values)}
    result = trainer.fit(epochs=10)
    assert [r["epoch"] for r in result.history] == [0, 1, 2, 3, 4, 5]
    assert result.stopped == "early_stopping" and result.best_epoch == 0


def test_a_resumed_run_that_stopped_early_stays_stopped_unless_patience_grows(data, tmp_path):
    assert frozen(make_trainer(data, patience=1, run_dir=tmp_path)).fit(epochs=10).stopped == "early_stopping"
    resumed = frozen(make_trainer(data, patience=1, run_dir=tmp_path)).fit(epochs=10, resume=True)
    assert resumed.stopped == "early_stopping" and len(resumed.history) == 2
    extended = frozen(make_trainer(data, patience=2, run_dir=tmp_path)).fit(epochs=10, resume=True)
    assert extended.stopped == "early_stopping" and len(extended.history) == 3


def test_same_seed_same_run_different_seed_different_run(data):
    a = make_trainer(data, seed=1).fit(epochs=2)
    b = make_trainer(data, seed=1).fit(epochs=2)
    c = make_trainer(data, seed=2).fit(epochs=2)
    assert [r["loss"] for r in a.history] == [r["loss"] for r in b.history]
    assert [r["loss"] for r in a.history] != [r["loss"] for r in c.history]


def test_nan_loss_is_a_clear_error(data):
    trainer = make_trainer(data, similarity="dot", loss=losses.BPR())
    with torch.no_grad():
        trainer.model.user_embedding.weight[0, 0] = float("nan")
    with pytest.raises(Exception, match="loss became nan"):
        trainer.fit(epochs=1)


def test_on_evaluation_sees_each_evaluated_epoch_and_can_end_the_run_once_it_is_logged(data, tmp_path):
    class Enough(Exception):
        pass

    seen = []

    def on_evaluation(epoch, metrics):
        seen.append((epoch, metrics["recall@20"]))
        if epoch == 2:
            raise Enough

    trainer = make_trainer(data, run_dir=tmp_path, eval_every=1, on_evaluation=on_evaluation)
    with pytest.raises(Enough):
        trainer.fit(epochs=5)
    assert [epoch for epoch, _ in seen] == [1, 2]
    assert [value for _, value in seen] == [record["metrics"]["recall@20"] for record in trainer.history]
    assert (tmp_path / "log.jsonl").read_text().count("\n") == 2 and (tmp_path / "last.pt").exists()


def test_time_limit_ends_after_the_epoch_that_crosses_it(data):
    result = make_trainer(data, time_limit=1e-9).fit(epochs=5)
    assert result.stopped == "time_limit" and len(result.history) == 1


@pytest.mark.parametrize("restore", [False, True])
def test_a_learning_rate_cut_can_restart_from_the_best_epoch(data, restore):
    # the monitored value falls after epoch 1, so the plateau scheduler (patience 0) cuts at epoch 2
    falling = iter([0.5, 0.4, 0.3])
    evaluator = lambda model: {"recall@20": next(falling)}  # noqa: E731
    trainer = make_trainer(data, restore_best_on_lr_cut=restore, scheduler=partial(
        torch.optim.lr_scheduler.ReduceLROnPlateau, mode="max", factor=0.5, patience=0))
    trainer.evaluator = evaluator
    snapshots = []
    original_evaluate = trainer._evaluate

    def evaluate_and_snapshot(record):
        outcome = original_evaluate(record)
        snapshots.append(trainer.model.user_embedding.weight.detach().clone())
        return outcome

    trainer._evaluate = evaluate_and_snapshot
    result = trainer.fit(epochs=2)
    assert trainer.optimizer.param_groups[0]["lr"] == pytest.approx(5e-3)
    assert result.best_epoch == 1
    after_cut = snapshots[1]
    assert torch.equal(after_cut, trainer.best_state["user_embedding.weight"]) is restore
    assert ("restored_best_epoch" in result.history[1]) is restore
    if restore:
        assert result.history[1]["restored_best_epoch"] == 1


def test_progress_off_a_terminal_is_one_clean_line_per_epoch(data, capsys):
    make_trainer(data, progress=True).fit(2)
    err = capsys.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 2 and all(line.startswith(f"epoch {n}: loss ") for n, line in zip((1, 2), lines))


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("bar", [True, False])
def test_a_terminal_gets_a_bar_unless_it_is_turned_off(data, monkeypatch, bar):
    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    make_trainer(data, progress=True, progress_bar=bar).fit(1)
    assert ("\r" in terminal.getvalue()) is bar
    assert terminal.getvalue().rsplit("\r", 1)[-1].startswith("epoch 1: loss ")  # the bar is wiped, the line stays


def test_resume_refuses_a_checkpoint_of_other_data_and_names_what_differs(data, tmp_path):
    fingerprint = {"training data": "a1", "split settings": "b1"}
    make_trainer(data, run_dir=tmp_path, fingerprint=fingerprint).fit(epochs=1)
    before = (tmp_path / "last.pt").read_bytes()
    for changed, named in (({"training data": "a2"}, "training data"), ({"split settings": "b2"}, "split settings")):
        with pytest.raises(MarginRankError, match=f"last.pt: this run's {named} differ from those the checkpoint was trained on"):
            make_trainer(data, run_dir=tmp_path, fingerprint={**fingerprint, **changed}).fit(epochs=2, resume=True)
    with pytest.raises(MarginRankError, match="this run's split settings, training data differ"):
        make_trainer(data, run_dir=tmp_path).fit(epochs=2, resume=True)
    assert (tmp_path / "last.pt").read_bytes() == before
    assert make_trainer(data, run_dir=tmp_path, fingerprint=fingerprint).fit(epochs=2, resume=True).history[-1]["epoch"] == 2


def test_a_checkpoint_of_an_older_format_is_refused_by_name(data, tmp_path):
    make_trainer(data, run_dir=tmp_path).fit(epochs=1)
    state = torch.load(tmp_path / "last.pt", weights_only=True)
    torch.save({**state, "format": "marginrank-trainer-2"}, tmp_path / "last.pt")
    with pytest.raises(MarginRankError, match="checkpoint format 'marginrank-trainer-2' is not 'marginrank-trainer-3'"):
        make_trainer(data, run_dir=tmp_path).fit(epochs=2, resume=True)


def falling_trainer(data, run_dir, values=(0.5, 0.4, 0.3)):
    """A trainer whose evaluations return ``values`` in turn: falling after epoch 1, the best epoch stays 1."""
    falling = iter(values)
    trainer = make_trainer(data, run_dir=run_dir)
    trainer.evaluator = lambda model: {"recall@20": next(falling)}
    return trainer


def tensor_bytes(value):
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size()
    if isinstance(value, dict):
        return sum(tensor_bytes(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return sum(tensor_bytes(v) for v in value)
    return 0


def test_last_pt_holds_the_weights_once_and_resume_takes_the_best_from_best_pt(data, tmp_path):
    straight = falling_trainer(data, tmp_path / "straight")
    straight.fit(epochs=3)
    interrupted = falling_trainer(data, tmp_path / "resumed")
    interrupted.fit(epochs=2)
    last = torch.load(tmp_path / "resumed" / "last.pt", weights_only=True)
    weights = tensor_bytes(interrupted.model.state_dict())
    assert tensor_bytes(last) == weights + tensor_bytes(interrupted.optimizer.state_dict())
    resumed = falling_trainer(data, tmp_path / "resumed", values=(0.3,))
    resumed.fit(epochs=3, resume=True)
    assert resumed.best_epoch == straight.best_epoch == 1
    for trainer in (straight, resumed):
        trainer.restore_best()
    for key, value in straight.model.state_dict().items():
        assert torch.equal(value, resumed.model.state_dict()[key])


def test_resume_refuses_a_best_pt_of_another_epoch(data, tmp_path):
    falling_trainer(data, tmp_path).fit(epochs=2)
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    torch.save({**best, "epoch": 2}, tmp_path / "best.pt")
    with pytest.raises(MarginRankError, match=r"best.pt: holds epoch 2 \(format 'marginrank-trainer-3'\); the checkpoint's best epoch is 1"):
        falling_trainer(data, tmp_path, values=(0.3,)).fit(epochs=3, resume=True)


def test_resume_writes_the_best_pt_an_interrupted_run_did_not_reach(data, tmp_path):
    """A run stopped between its last.pt and its best.pt: last.pt's best epoch is its own, and the
    resumed run writes that epoch's best.pt before its next epoch can need it."""
    falling_trainer(data, tmp_path, values=(0.1, 0.2)).fit(epochs=2)
    weights = torch.load(tmp_path / "best.pt", weights_only=True)["model"]
    earlier = falling_trainer(data, tmp_path / "earlier", values=(0.1,))
    earlier.fit(epochs=1)
    (tmp_path / "best.pt").write_bytes((tmp_path / "earlier" / "best.pt").read_bytes())
    falling_trainer(data, tmp_path, values=(0.05,)).fit(epochs=3, resume=True)
    best = torch.load(tmp_path / "best.pt", weights_only=True)
    assert best["epoch"] == 2 and all(torch.equal(value, best["model"][key]) for key, value in weights.items())
    resumed = falling_trainer(data, tmp_path, values=())
    resumed.fit(epochs=3, resume=True)
    assert resumed.best_epoch == 2
