"""The training loop every task shares: batches -> scores -> loss -> optimizer, with evaluation,
early stopping, learning-rate schedules (cut on a plateau, or per step), weight averaging,
callbacks (top-K refreshes, collapse checks), logs, atomic checkpoints and exact resume.

A run folder holds ``log.jsonl``, ``last.pt`` (what resuming needs: weights, optimizer, schedule,
history, callbacks' states) and ``best.pt`` (the best epoch's weights, kept once: ``last.pt`` names
its epoch). A training holds its folder (:mod:`marginrank.training.run_folder`), and a resumed one
refuses a checkpoint whose data fingerprint differs from the caller's.

The loop takes built objects (model, task, loss, optimizer, evaluator, callbacks); it never sees a
config. Everything random (batch order, negatives, dropout, mining) is reseeded at the start of every
epoch from (seed, epoch, rank) (:mod:`marginrank.training.seeds`), so a resumed run continues exactly
where the interrupted one stopped, with the same or a different number of processes.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, ExitStack, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from marginrank.atomic import atomic_write_text
from marginrank.checks import require_integer, require_optional, require_positive
from marginrank.errors import MarginRankError
from marginrank.losses.base import RankingLoss
from marginrank.training.averaging import WeightAverage
from marginrank.training.callbacks import Callback, CollapseStop
from marginrank.training.checkpoint import load_checkpoint, require_entries, save_checkpoint
from marginrank.training.distributed import ProcessGroup
from marginrank.training.run_folder import claim
from marginrank.training.seeds import GLOBAL, EpochSeeds
from marginrank.training.tasks.base import Scores, Task

CHECKPOINT_FORMAT = "marginrank-trainer-3"
Scheduler = LRScheduler | ReduceLROnPlateau
OptimizerFactory = Callable[[], torch.optim.Optimizer]
SchedulerFactory = Callable[[torch.optim.Optimizer], Scheduler]
REQUIRED_BY_TASK = {
    "neg_log_prob": "the log-Q correction needs a softmax loss; {loss} takes no log-probabilities",
    "pos_threshold": "top-K thresholds go with a top-K weighted loss (TopKWeighted); {loss} takes none",
    "example_weight": "the task weighs its examples: wrap the loss in Weighted(...); {loss} takes no weights",
    "pos_mask": "the task scores each anchor against the whole batch: it needs a loss that works per anchor "
                "(MultiSimilarity); {loss} takes no pos_mask",
}


@dataclass
class TrainResult:
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_metrics: dict[str, float] = field(default_factory=dict)
    stopped: str = "completed"  # "completed", "early_stopping" or "time_limit"

    @property
    def trained(self) -> list[dict[str, Any]]:
        """The records of the trained epochs (the history without the evaluated start)."""
        return [record for record in self.history if record["epoch"] > 0]

    @property
    def epochs_trained(self) -> int:
        """The last epoch trained (0: none; the history may start with the evaluated start, epoch 0)."""
        return self.history[-1]["epoch"] if self.history else 0


class Trainer:
    """Train ``model`` on ``task`` with ``loss`` and ``optimizer``.

    - ``task`` (:class:`~marginrank.training.tasks.base.Task`) yields the epoch's batches and scores
      each with the model: ``(pos [B], neg [B, N], neg_mask, loss extras)``; e.g.
      :class:`~marginrank.training.tasks.InteractionTask` for user-item pairs.
    - ``l2`` multiplies ``model.regularization(*scores.rows)`` (the rows the batch uses).
    - ``constraints`` (e.g. a norm constraint) run on the model after every optimizer step.
    - ``evaluator(model) -> metrics`` every ``eval_every`` epochs; ``monitor`` (e.g. ``"recall@20"``)
      picks the best epoch and drives early stopping after ``patience`` evaluations of trained
      epochs without improvement over the best trained epoch (the start of ``evaluate_start`` can
      be the best epoch but does not start the count). ``scheduler`` is either a
      ``ReduceLROnPlateau`` (mode max), stepped with the monitored value at each evaluation, or
      any other torch schedule (e.g. :func:`~marginrank.training.schedules.cosine_decay`), stepped
      after every optimizer step.
      ``optimizer`` may be given as a function of no arguments that builds it, and ``scheduler``
      as a function of the optimizer: they are then built when first needed (after the start's
      evaluation), which matters because the first torch optimizer a process builds imports
      ``torch._dynamo`` (about a second on a CPU) and would otherwise delay the first result.
      ``evaluated_on`` names the evaluator's split (e.g. ``"validation"``) in the progress lines.
      ``restore_best_on_lr_cut`` reloads the best epoch's weights whenever the plateau scheduler
      cuts the learning rate (RecBox's plateau schedule), so the lower rate starts from the best
      point rather than from a stale one; the optimizer state is kept.
    - ``callbacks`` (:mod:`marginrank.training.callbacks`) run at the start and end of every epoch:
      top-K threshold refreshes, collapse checks.
    - ``grad_sync`` averages the gradients over a process group: ``"rows"`` (all-gather the touched
      embedding rows), ``"dense"`` (all-reduce whole tables) or ``"ddp"`` (DistributedDataParallel);
      see :mod:`marginrank.training.distributed`.
    - ``average_decay`` keeps an exponential moving average of the weights
      (:class:`~marginrank.training.averaging.WeightAverage`); evaluations, collapse checks and the
      best epoch's snapshot then use the averaged weights, while training steps on the model's own.
    - ``progress`` prints one line per epoch on stderr; ``progress_bar`` adds a bar over each
      epoch's batches when stderr is a terminal.
    - ``run_dir`` receives ``log.jsonl`` (one line per epoch), ``last.pt`` and ``best.pt``.
    - ``fingerprint`` names what the run trains on, e.g. ``{"training data": <hash>, "split settings":
      <hash>}``: kept in ``last.pt``, and a resume whose fingerprint differs is refused, naming the keys.
    - ``time_limit`` (seconds) ends training after the first epoch that finishes past it.
    - ``evaluate_start`` evaluates the model before the first epoch, as epoch 0 of the history (no
      loss, no schedule step): a start that no epoch beats is the best epoch, and the one kept.
    - ``clock`` is the ``time.perf_counter()`` reading that every record's ``elapsed`` (seconds)
      counts from: the caller's start, so that building the model counts too [the call to ``fit``].
    - ``on_evaluation(epoch, metrics)`` runs after every evaluated epoch (not the start), once its
      record is logged and its checkpoint written; an exception it raises ends the run there, e.g. a
      hyper-parameter search pruning a poor trial (:mod:`marginrank.tuning.pruning`).
    """

    def __init__(
        self,
        model: nn.Module,
        task: Task,
        loss: RankingLoss,
        optimizer: torch.optim.Optimizer | OptimizerFactory,
        *,
        l2: float = 0.0,
        clip_norm: float | None = None,
        constraints: Sequence[Callable[[nn.Module], None]] = (),
        evaluator: Callable[[nn.Module], dict[str, float]] | None = None,
        eval_every: int = 1,
        monitor: str = "recall@20",
        patience: int | None = None,
        scheduler: Scheduler | SchedulerFactory | None = None,
        restore_best_on_lr_cut: bool = False,
        callbacks: Sequence[Callback] = (),
        run_dir: str | Path | None = None,
        seed: int = 0,
        progress: bool = True,
        progress_bar: bool = True,
        device: str | torch.device = "cpu",
        process: ProcessGroup | None = None,
        time_limit: float | None = None,
        grad_sync: str = "rows",
        tags: dict[str, Any] | None = None,
        average_decay: float | None = None,
        evaluated_on: str | None = None,
        fingerprint: dict[str, str] | None = None,
        evaluate_start: bool = False,
        clock: float | None = None,
        on_evaluation: Callable[[int, dict[str, float]], None] | None = None,
    ) -> None:
        require_integer("eval_every", eval_every, 1)
        require_optional("clip_norm", clip_norm, require_positive)
        require_optional("time_limit", time_limit, require_positive)
        if isinstance(scheduler, Scheduler) and not isinstance(optimizer, torch.optim.Optimizer):
            raise MarginRankError("a built scheduler needs the optimizer it was built on: pass the optimizer built, "
                                  "or the scheduler as a function of the optimizer")
        if not isinstance(constraints, Sequence) or not isinstance(callbacks, Sequence):
            wrong = constraints if not isinstance(constraints, Sequence) else callbacks
            raise MarginRankError(f"constraints and callbacks are lists, e.g. [{type(wrong).__name__}(...)]")
        if not isinstance(task, Task):
            raise MarginRankError(f"task must provide batches() and scores(); got {type(task).__name__}")
        for keyword in task.loss_keywords:
            if not loss.takes(keyword):
                raise MarginRankError(REQUIRED_BY_TASK[keyword].format(loss=type(loss).__name__))
        if loss.takes("pos_threshold") and "pos_threshold" not in task.loss_keywords:
            raise MarginRankError(f"{type(loss).__name__} weighs by top-K thresholds: give the task a TopKQuantile")
        self.model, self.task, self.loss = model, task, loss
        self.passed_keywords = task.loss_keywords | {k for k in task.optional_keywords if loss.takes(k)}
        self.l2, self.clip_norm = l2, clip_norm
        self.constraints, self.callbacks = tuple(constraints), tuple(callbacks)
        self.evaluator, self.eval_every, self.monitor, self.patience = evaluator, eval_every, monitor, patience
        self.restore_best_on_lr_cut = restore_best_on_lr_cut
        self._optimization: tuple[torch.optim.Optimizer, Scheduler | None] | None = None
        self._optimizer_source, self._scheduler_source = optimizer, scheduler
        if isinstance(optimizer, torch.optim.Optimizer):
            self._build_optimization()
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.seed, self.progress, self.device = seed, progress, torch.device(device)
        self.progress_bar = progress and progress_bar
        self.tags = dict(tags or {})
        self.evaluated_on = evaluated_on
        self.fingerprint = dict(fingerprint or {})
        self.evaluate_start, self.clock = evaluate_start, clock
        self.on_evaluation = on_evaluation
        self.time_limit = time_limit
        self.process = process or ProcessGroup()
        self.sync = self.process.gradient_sync(model, grad_sync)
        self.average = None if average_decay is None else WeightAverage(model, average_decay)
        self.history: list[dict[str, Any]] = []
        self.best_epoch: int | None = None
        self.best_metrics: dict[str, float] = {}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale_evaluations = 0
        self.epoch = 0
        self.bytes_communicated = 0

    # -------------------------------------------------------------------------- optimizer, schedule
    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The optimizer (built on first use where a function to build it was given)."""
        return self._built()[0]

    @property
    def scheduler(self) -> Scheduler | None:
        """The learning-rate schedule on :attr:`optimizer`, if any."""
        return self._built()[1]

    def _built(self) -> tuple[torch.optim.Optimizer, Scheduler | None]:
        if self._optimization is None:
            self._build_optimization()
        return self._optimization

    def _build_optimization(self) -> None:
        optimizer = self._optimizer_source
        if not isinstance(optimizer, torch.optim.Optimizer):
            optimizer = optimizer()
        scheduler = self._scheduler_source
        if scheduler is not None and not isinstance(scheduler, Scheduler):
            scheduler = scheduler(optimizer)
        if isinstance(scheduler, ReduceLROnPlateau) and scheduler.mode != "max":
            raise MarginRankError("a ReduceLROnPlateau scheduler must have mode='max': the monitored metric rises")
        if self.restore_best_on_lr_cut and scheduler is not None and not isinstance(scheduler, ReduceLROnPlateau):
            raise MarginRankError("restore_best_on_lr_cut acts on the cuts of a ReduceLROnPlateau, not on a per-step schedule")
        self._optimization = optimizer, scheduler

    # ----------------------------------------------------------------------------------- training
    def fit(self, epochs: int, *, resume: bool = False, on_start: Callable[[], None] | None = None) -> TrainResult:
        """Train for up to ``epochs`` epochs (in total, counting those of a resumed checkpoint); a
        resumed run that had run out of ``patience`` stays stopped.

        ``on_start`` runs once the run folder is held and the checkpoint (on resume) is loaded and
        checked, before anything is written: where a caller writes its own files into the folder."""
        if self.clock is None:
            self.clock = time.perf_counter()
        with ExitStack() as stack:
            if self.run_dir is not None and self.process.is_main:
                stack.enter_context(claim(self.run_dir))
            if resume:
                self.load(self._path("last.pt"))
            elif self.run_dir is not None and self._path("last.pt").exists():
                raise MarginRankError("already holds a run's checkpoint: resume it, or train into another folder", path=str(self.run_dir))
            if on_start is not None:
                on_start()
            if resume and self.best_epoch == self.epoch and self._best_on_disk() != self.epoch:
                self._save_best()  # the interrupted run ended between its last.pt and its best.pt
            return self._epochs(epochs)

    def _epochs(self, epochs: int) -> TrainResult:
        stopped = "early_stopping" if self._out_of_patience() else "completed"
        started = time.perf_counter()
        if self.evaluate_start and self.evaluator is not None and not self.history:
            self._evaluate_start()
        while stopped == "completed" and self.epoch < epochs:
            self.epoch += 1
            seeds = EpochSeeds(self.seed, self.epoch, self.process.rank)
            self.task.begin_epoch(self.epoch, seeds)
            torch.manual_seed(seeds.per_rank(GLOBAL))
            record: dict[str, Any] = {"epoch": self.epoch}
            for callback in self.callbacks:
                record.update(callback.on_epoch_start(self.model, self.epoch, seeds))
            record.update(self._train_epoch())
            record["lr"] = self.optimizer.param_groups[0]["lr"]
            if self.evaluator is not None and (self.epoch % self.eval_every == 0 or self.epoch == epochs):
                stopped = self._evaluate(record)
            self._end_callbacks(record)
            record["elapsed"] = time.perf_counter() - self.clock
            self._record(record)
            if self.run_dir is not None:
                self.save(self._path("last.pt"))
                if self.best_epoch == self.epoch:
                    self._save_best()
            if self.on_evaluation is not None and "metrics" in record:
                self.on_evaluation(self.epoch, record["metrics"])
            if stopped == "completed" and self.time_limit is not None and self._past(started + self.time_limit):
                stopped = "time_limit"
        return TrainResult(self.history, self.best_epoch, self.best_metrics, stopped)

    def _evaluate_start(self) -> None:
        """Epoch 0: the model as built, evaluated and kept as the best so far."""
        record: dict[str, Any] = {"epoch": 0}
        self._evaluate(record, trained=False)
        record["elapsed"] = time.perf_counter() - self.clock
        record["lr"] = self.optimizer.param_groups[0]["lr"]
        self._record(record)
        if self.run_dir is not None:
            self._save_best()

    def _end_callbacks(self, record: dict[str, Any]) -> None:
        """The callbacks' end-of-epoch hooks on the evaluated weights; a collapse stop is recorded first."""
        if not self.callbacks:
            return
        self.model.eval()
        with self._evaluated_weights():
            for callback in self.callbacks:
                try:
                    record.update(callback.on_epoch_end(self.model, self.epoch))
                except CollapseStop as stop:
                    record.update(stop.record)
                    self._record(record)
                    raise

    def _record(self, record: dict[str, Any]) -> None:
        """Keep an epoch's record: in the history, in ``log.jsonl`` and, with progress on, as one line."""
        self.history.append(record)
        self._write_log()
        if self.progress and self.process.is_main:
            print(self._summary(record), file=sys.stderr, flush=True)

    def _summary(self, record: dict[str, Any]) -> str:
        """One line per epoch for the progress display: loss, the monitored metric and the best so far."""
        parts = [f"epoch {record['epoch']}: loss {record['loss']:.4f}" if "loss" in record else "start"]
        if "metrics" in record:
            label = self.monitor if self.evaluated_on is None else f"{self.evaluated_on} {self.monitor}"
            parts.append(
                f"{label} {record['metrics'][self.monitor]:.4f} "
                f"(best {self.best_metrics[self.monitor]:.4f} at epoch {self.best_epoch})"
            )
        seconds = sum(value for key, value in record.items() if key == "seconds" or key.endswith("_seconds"))
        if "loss" not in record:
            return f"{parts[0]}: {parts[1]}, {seconds:.1f} s"
        parts.append(f"lr {record['lr']:.3g}, {seconds:.1f} s")
        return ", ".join(parts)

    def _past(self, deadline: float) -> bool:
        """Whether any rank is past ``deadline`` (all ranks must stop at the same epoch)."""
        late = torch.tensor([float(time.perf_counter() > deadline)], dtype=torch.float64)
        return bool(self.process.sum_(late)[0] > 0)

    def _train_epoch(self) -> dict[str, float]:
        self.model.train()
        total, count, start = 0.0, 0, time.perf_counter()
        batches = len(self.task)
        bar = _progress(batches, f"epoch {self.epoch}", self.progress_bar and self.process.is_main)
        for batch in self.task.batches():
            loss, examples = self._step(batch)
            total += loss * examples
            count += examples
            if bar is not None:
                bar.update(1)
                if bar.n % 20 == 0 or bar.n == batches:
                    bar.set_postfix(loss=f"{total / count:.4f}", ex_per_s=f"{count / (time.perf_counter() - start):,.0f}")
        if bar is not None:
            bar.close()
        totals = self.process.sum_(torch.tensor([total, count], dtype=torch.float64))
        seconds = time.perf_counter() - start
        total, count = float(totals[0]), int(totals[1])
        return {"loss": total / count, "seconds": seconds, "examples_per_s": count / seconds}

    def _step(self, batch: Any) -> tuple[float, int]:
        """One optimizer step: ``(loss value, examples in the batch)``."""
        scores: Scores = self.task.scores(self.sync.module, batch, self.device)
        extras = {key: value for key, value in scores.extras.items() if key in self.passed_keywords}
        loss = self.loss(scores.pos, scores.neg, scores.mask, **extras) if extras else self.loss(scores.pos, scores.neg, scores.mask)
        objective = loss + self.l2 * self.model.regularization(*scores.rows) if self.l2 else loss
        value = float(loss.detach())
        if not math.isfinite(value):
            raise MarginRankError(
                f"the loss became {value} at epoch {self.epoch}: lower the learning rate, or use a bounded "
                "(cosine) scorer"
            )
        self.optimizer.zero_grad(set_to_none=True)
        objective.backward()
        self.bytes_communicated += self.sync.synchronize()
        if self.clip_norm is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.clip_norm)
        self.optimizer.step()
        if self.scheduler is not None and not isinstance(self.scheduler, ReduceLROnPlateau):
            self.scheduler.step()
        for constraint in self.constraints:
            constraint(self.model)
        if self.average is not None:
            self.average.update()
        return value, scores.pos.shape[0]

    # --------------------------------------------------------------------------- evaluation
    def _evaluated_weights(self) -> AbstractContextManager[None]:
        """The weights that evaluations and collapse checks see: the average where one is kept."""
        return nullcontext() if self.average is None else self.average.applied()

    def _evaluate(self, record: dict[str, Any], *, trained: bool = True) -> str:
        """Evaluate, keep the best epoch; after a ``trained`` epoch (not the start) count patience and step a plateau schedule."""
        self.model.eval()
        start = time.perf_counter()
        with self._evaluated_weights():
            metrics = self.evaluator(self.model)
            record["eval_seconds"] = time.perf_counter() - start
            record["metrics"] = metrics
            if self.monitor not in metrics:
                raise MarginRankError(f"monitored metric {self.monitor!r} is not computed; available: {sorted(metrics)}")
            value = metrics[self.monitor]
            if self.best_epoch is None or value > self.best_metrics[self.monitor]:
                self.best_epoch, self.best_metrics = self.epoch, dict(metrics)
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if trained:  # patience counts from the best trained epoch
            earlier = [r["metrics"][self.monitor] for r in self.history if r["epoch"] > 0 and "metrics" in r]
            self.stale_evaluations = 0 if not earlier or value > max(earlier) else self.stale_evaluations + 1
        record["best_epoch"] = self.best_epoch
        if trained and isinstance(self.scheduler, ReduceLROnPlateau):
            rates = [group["lr"] for group in self.optimizer.param_groups]
            self.scheduler.step(value)
            cut = any(group["lr"] < rate for group, rate in zip(self.optimizer.param_groups, rates))
            if cut and self.restore_best_on_lr_cut:
                self.restore_best()
                record["restored_best_epoch"] = self.best_epoch
        return "early_stopping" if self._out_of_patience() else "completed"

    def _out_of_patience(self) -> bool:
        """Whether ``patience`` evaluations of trained epochs in a row went without improvement."""
        return self.patience is not None and self.stale_evaluations >= self.patience

    def restore_best(self) -> None:
        """Load the weights of the best evaluated epoch; where nothing was evaluated, the averaged
        weights if an average is kept (otherwise the model keeps its own)."""
        if self.best_state is not None:
            self.model.load_state_dict(self.best_state)
        elif self.average is not None:
            self.average.copy_to_model()

    # ------------------------------------------------------------------------- files, checkpoints
    def _path(self, name: str) -> Path:
        if self.run_dir is None:
            raise MarginRankError("this trainer has no run folder to read or write checkpoints")
        return self.run_dir / name

    def _write_log(self) -> None:
        if self.run_dir is not None and self.process.is_main:
            lines = (json.dumps({**self.tags, **record}) for record in self.history)
            atomic_write_text(self._path("log.jsonl"), "".join(line + "\n" for line in lines))

    def _save_best(self) -> None:
        """Write ``best.pt`` (after ``last.pt``: a ``last.pt`` whose best epoch is its own holds the best weights itself)."""
        if self.process.is_main:
            save_checkpoint({"format": CHECKPOINT_FORMAT, "epoch": self.best_epoch, "model": self.best_state,
                             "metrics": self.best_metrics}, self._path("best.pt"))

    def _best_on_disk(self) -> int | None:
        """The epoch that ``best.pt`` holds (its tensors left unread), if there is one."""
        path = self._path("best.pt")
        return load_checkpoint(path, mmap=True).get("epoch") if path.exists() else None

    def state_dict(self) -> dict[str, Any]:
        """What resuming needs; the best epoch's weights are not in it (see :meth:`load_state_dict`)."""
        return {
            "format": CHECKPOINT_FORMAT,
            "fingerprint": self.fingerprint,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_class": type(self.optimizer).__name__,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "history": json.dumps(self.history),
            "best_epoch": self.best_epoch,
            "best_metrics": self.best_metrics,
            "stale_evaluations": self.stale_evaluations,
            "average": None if self.average is None else self.average.state_dict(),
            "callbacks": {callback.name: callback.state_dict() for callback in self.callbacks},
        }

    def load_state_dict(self, state: dict[str, Any], *, source: str | Path | None = None,
                        best: dict[str, Any] | None = None) -> None:
        """Restore a :meth:`state_dict`; ``source`` (the file it came from) is named in any error.
        ``best`` is the ``best.pt`` of the best epoch, needed unless that epoch is the checkpoint's own."""
        where = None if source is None else str(source)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise MarginRankError(f"checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT!r}: written by "
                                  "another version of marginrank, it cannot be resumed; train into another folder", path=where)
        require_entries(state, ("fingerprint", "epoch", "model", "optimizer", "scheduler", "history", "best_epoch",
                                "best_metrics", "stale_evaluations"), where)
        saved = state["fingerprint"]
        differing = sorted(key for key in saved.keys() | self.fingerprint.keys() if saved.get(key) != self.fingerprint.get(key))
        if differing:
            raise MarginRankError(f"this run's {', '.join(differing)} differ from those the checkpoint was trained on: "
                                  "resume with the same, or train into another folder", path=where)
        saved_optimizer, optimizer = state.get("optimizer_class"), type(self.optimizer).__name__
        if saved_optimizer is not None and saved_optimizer != optimizer:
            raise MarginRankError(f"the checkpoint was trained with {saved_optimizer}, this trainer has {optimizer}", path=where)
        try:
            self.model.load_state_dict(state["model"])
            self.optimizer.load_state_dict(state["optimizer"])
        except (RuntimeError, KeyError, ValueError) as error:
            detail = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
            raise MarginRankError(f"checkpoint does not fit this model/optimizer: {detail}", path=where) from None
        if self.scheduler is not None and state["scheduler"] is not None:
            self.scheduler.load_state_dict(state["scheduler"])
        self.epoch = state["epoch"]
        self.history = json.loads(state["history"])
        self.best_epoch, self.best_metrics = state["best_epoch"], dict(state["best_metrics"])
        self.stale_evaluations = state["stale_evaluations"]
        if self.average is not None and state.get("average") is not None:
            self.average.load_state_dict(state["average"])
        self.best_state = self._best_state(best)
        saved = state.get("callbacks") or {}
        for callback in self.callbacks:
            try:
                callback.load_state_dict(saved.get(callback.name))
            except MarginRankError as error:
                raise MarginRankError(str(error), path=where) from None

    def _best_state(self, best: dict[str, Any] | None) -> dict[str, torch.Tensor] | None:
        """The best epoch's weights, once the checkpoint is loaded: its own (as evaluated) or ``best``'s."""
        if self.best_epoch is None:
            return None
        if self.best_epoch == self.epoch:
            with self._evaluated_weights():
                return {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if best is None:
            raise MarginRankError(f"the best epoch {self.best_epoch}'s weights are in best.pt, and none was given")
        return best["model"]

    def save(self, path: str | Path) -> None:
        """Write a checkpoint (rank 0 only: every rank holds the same replica)."""
        if self.process.is_main:
            save_checkpoint(self.state_dict(), path)

    def load(self, path: str | Path) -> None:
        """Load the checkpoint at ``path`` and, where its best epoch is an earlier one, ``best.pt`` beside it."""
        path = Path(path)
        state = load_checkpoint(path)
        best = None
        if state.get("best_epoch") not in (None, state.get("epoch")):
            best_path = path.with_name("best.pt")
            best = load_checkpoint(best_path)
            require_entries(best, ("epoch", "model"), best_path)
            if best["format"] != CHECKPOINT_FORMAT or best["epoch"] != state["best_epoch"]:
                raise MarginRankError(f"holds epoch {best['epoch']} (format {best['format']!r}); the checkpoint's best epoch "
                                      f"is {state['best_epoch']} (format {CHECKPOINT_FORMAT!r})",
                                      path=str(best_path))
        self.load_state_dict(state, source=path, best=best)


def _progress(total: int, description: str, enabled: bool):
    """A bar over an epoch's batches, on a terminal only: redirected to a file, its redraws would
    bury the epoch lines."""
    if not enabled or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="batch", leave=False, dynamic_ncols=True)
