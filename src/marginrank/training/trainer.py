"""The epoch loop: pairs -> sampler -> model -> loss -> optimizer, with evaluation, early stopping,
learning-rate schedules (cut on a plateau, or per step), collapse checks, logs and atomic checkpoints.

The trainer takes built objects (model, loss, sampler, optimizer, evaluator); it never sees a
config. Everything random it owns (batch order, negatives, dropout) is reseeded at the start of
every epoch from (seed, epoch, rank), so a resumed run continues exactly where the interrupted one
stopped, with the same or a different number of processes.
"""

from __future__ import annotations

import json
import math
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from marginrank.atomic import atomic_write_text
from marginrank.checks import require_choice, require_integer
from marginrank.data.interactions import Interactions
from marginrank.errors import MarginRankError
from marginrank.losses.base import RankingLoss
from marginrank.sampling.layout import per_row
from marginrank.training.averaging import WeightAverage
from marginrank.training.batches import POSITIVE_SAMPLING, PairBatches
from marginrank.training.checkpoint import load_checkpoint, require_entries, save_checkpoint
from marginrank.training.distributed import ProcessGroup
from marginrank.training.top_k_quantile import TopKQuantile

CHECKPOINT_FORMAT = "marginrank-trainer-1"


class CollapseWarning(UserWarning):
    """A run shows the signs of collapse (see :mod:`marginrank.guards`)."""


class CollapseStop(MarginRankError):
    """Training stopped because it collapsed (``on_collapse="stop"``)."""


@dataclass
class TrainResult:
    history: list[dict[str, Any]]
    best_epoch: int | None
    best_metrics: dict[str, float] = field(default_factory=dict)
    stopped: str = "completed"  # "completed", "early_stopping" or "time_limit"


class Trainer:
    """Train ``model`` on the pairs of an :class:`Interactions` with ``loss`` and ``sampler``.

    - ``sampler.sample(users) -> [B, N]`` per-example or ``[N]`` shared negatives; a sampler with
      ``collision_mask(users, items)`` gets its accidental positives masked out of the loss.
    - ``l2`` multiplies ``model.regularization(users, pos, neg)`` (the rows the batch uses).
    - ``constraints`` (e.g. a norm constraint) run on the model after every optimizer step.
    - ``evaluator(model) -> metrics`` every ``eval_every`` epochs; ``monitor`` (e.g. ``"recall@20"``)
      picks the best epoch and drives early stopping after ``patience`` evaluations without
      improvement. ``scheduler`` is either a ``ReduceLROnPlateau`` (mode max), stepped with the
      monitored value at each evaluation, or any other torch schedule (e.g.
      :func:`~marginrank.training.schedules.cosine_decay`), stepped after every optimizer step.
      ``evaluated_on`` names the evaluator's split (e.g. ``"validation"``) in the progress lines.
      ``restore_best_on_lr_cut`` reloads the best epoch's weights whenever the plateau scheduler
      cuts the learning rate (RecBox's plateau schedule), so the lower rate starts from the best
      point rather than from a stale one; the optimizer state is kept.
    - ``collapse_monitor.check(...)`` every epoch; ``on_collapse`` is ``"warn"`` or ``"stop"``.
    - ``log_q_correction`` passes ``sampler.sample_with_log_prob``'s log-probabilities to the loss
      (sampled softmax, BSL), one row per batch row (grouped pools are expanded), so that
      popularity-sampled negatives are not over-penalized.
    - ``top_k_quantile`` (with a :class:`~marginrank.losses.TopKWeighted` loss, SL@K) is refreshed
      from the model before every ``every``-th epoch and hands each row's user threshold to the loss.
    - ``grad_sync`` averages the gradients over a process group: ``"rows"`` (all-gather the touched
      embedding rows), ``"dense"`` (all-reduce whole tables) or ``"ddp"`` (DistributedDataParallel);
      see :mod:`marginrank.training.distributed`.
    - ``average_decay`` keeps an exponential moving average of the weights
      (:class:`~marginrank.training.averaging.WeightAverage`); evaluations, collapse checks and the
      best epoch's snapshot then use the averaged weights, while training steps on the model's own.
    - ``run_dir`` receives ``log.jsonl`` (one line per epoch), ``last.pt`` and ``best.pt``.
    - ``time_limit`` (seconds) ends training after the first epoch that finishes past it.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: RankingLoss,
        sampler: Any,
        optimizer: torch.optim.Optimizer,
        *,
        batch_size: int = 1024,
        positive_sampling: str = "pairs",
        l2: float = 0.0,
        clip_norm: float | None = None,
        constraints: Sequence[Callable[[nn.Module], None]] = (),
        evaluator: Callable[[nn.Module], dict[str, float]] | None = None,
        eval_every: int = 1,
        monitor: str = "recall@20",
        patience: int | None = None,
        scheduler: LRScheduler | ReduceLROnPlateau | None = None,
        restore_best_on_lr_cut: bool = False,
        collapse_monitor: Any = None,
        on_collapse: str = "warn",
        run_dir: str | Path | None = None,
        seed: int = 0,
        progress: bool = True,
        device: str | torch.device = "cpu",
        log_q_correction: bool = False,
        process: ProcessGroup | None = None,
        time_limit: float | None = None,
        grad_sync: str = "rows",
        tags: dict[str, Any] | None = None,
        average_decay: float | None = None,
        evaluated_on: str | None = None,
        top_k_quantile: TopKQuantile | None = None,
    ) -> None:
        require_integer("batch size", batch_size, 1)
        if eval_every < 1:
            raise MarginRankError(f"eval_every must be at least 1, got {eval_every}")
        if clip_norm is not None and not clip_norm > 0:
            raise MarginRankError(f"clip_norm must be > 0 or None, got {clip_norm}")
        if time_limit is not None and not time_limit > 0:
            raise MarginRankError(f"time_limit must be > 0 seconds or None, got {time_limit}")
        if isinstance(scheduler, ReduceLROnPlateau) and scheduler.mode != "max":
            raise MarginRankError("a ReduceLROnPlateau scheduler must have mode='max': the monitored metric rises")
        if on_collapse not in ("warn", "stop"):
            raise MarginRankError(f"on_collapse must be 'warn' or 'stop', got {on_collapse!r}")
        self.model, self.loss, self.sampler, self.optimizer = model, loss, sampler, optimizer
        self.batch_size, self.l2, self.clip_norm = batch_size, l2, clip_norm
        self.positive_sampling = require_choice("positive_sampling", positive_sampling, POSITIVE_SAMPLING)
        if not isinstance(constraints, Sequence):
            raise MarginRankError(f"constraints must be a list of callables, e.g. [{type(constraints).__name__}(...)]")
        self.constraints = tuple(constraints)
        self.evaluator, self.eval_every, self.monitor, self.patience = evaluator, eval_every, monitor, patience
        self.scheduler, self.restore_best_on_lr_cut = scheduler, restore_best_on_lr_cut
        if restore_best_on_lr_cut and scheduler is not None and not isinstance(scheduler, ReduceLROnPlateau):
            raise MarginRankError("restore_best_on_lr_cut acts on the cuts of a ReduceLROnPlateau, not on a per-step schedule")
        self.collapse_monitor, self.on_collapse = collapse_monitor, on_collapse
        self.run_dir = None if run_dir is None else Path(run_dir)
        self.seed, self.progress, self.device = seed, progress, torch.device(device)
        self.tags = dict(tags or {})
        self.evaluated_on = evaluated_on
        self.time_limit = time_limit
        self.process = process or ProcessGroup()
        self.sync = self.process.gradient_sync(model, grad_sync)
        self.average = None if average_decay is None else WeightAverage(model, average_decay)
        self.generator = torch.Generator()
        self._loss_takes_groups = loss.takes("pos_groups")
        if log_q_correction and not loss.takes("neg_log_prob"):
            raise MarginRankError(f"the log-Q correction needs a softmax loss; {type(loss).__name__} takes no log-probabilities")
        self.log_q_correction = log_q_correction
        if (top_k_quantile is None) == loss.takes("pos_threshold"):
            raise MarginRankError(
                "a top-K weighted loss and a TopKQuantile come together: pass both or neither"
                f" (loss {type(loss).__name__}, top_k_quantile {type(top_k_quantile).__name__})"
            )
        self.top_k_quantile = top_k_quantile
        self.quantile_generator = torch.Generator()
        # shared pools cannot exclude each row's positives, so those are masked out of the loss
        self._mask_collisions = bool(getattr(sampler, "shared", False)) and getattr(sampler, "membership", None) is not None
        self.history: list[dict[str, Any]] = []
        self.best_epoch: int | None = None
        self.best_metrics: dict[str, float] = {}
        self.best_state: dict[str, torch.Tensor] | None = None
        self.stale_evaluations = 0
        self.epoch = 0
        self.bytes_communicated = 0

    # ----------------------------------------------------------------------------------- training
    def fit(self, train: Interactions, epochs: int, *, resume: bool = False) -> TrainResult:
        """Train for up to ``epochs`` epochs (in total, counting those of a resumed checkpoint)."""
        if len(train) == 0:
            raise MarginRankError("no training pairs")
        if self.batch_size < self.process.world_size:
            raise MarginRankError(
                f"batch size {self.batch_size} is smaller than the {self.process.world_size} processes that share each batch"
            )
        if resume:
            self.load(self._path("last.pt"))
        elif self.run_dir is not None and self._path("last.pt").exists():
            raise MarginRankError("already holds a run's checkpoint: resume it, or train into another folder", path=str(self.run_dir))
        batches = PairBatches(
            train.users, train.items, self.batch_size, self.generator, positive_sampling=self.positive_sampling,
            rank=self.process.rank, world_size=self.process.world_size,
        )
        positives = train.matrix
        stopped = "completed"
        started = time.perf_counter()
        while self.epoch < epochs:
            self.epoch += 1
            self._reseed()
            record: dict[str, Any] = {"epoch": self.epoch}
            if self.top_k_quantile is not None and self.top_k_quantile.due(self.epoch):
                start = time.perf_counter()
                self.top_k_quantile.refresh(self.model, positives, self.quantile_generator)
                record["threshold_seconds"] = time.perf_counter() - start
            record.update(self._train_epoch(batches))
            record["lr"] = self.optimizer.param_groups[0]["lr"]
            if self.evaluator is not None and (self.epoch % self.eval_every == 0 or self.epoch == epochs):
                stopped = self._evaluate(record)
            if self.collapse_monitor is not None:
                stopped = self._check_collapse(record, positives) or stopped
            self._record(record)
            if self.run_dir is not None:
                self.save(self._path("last.pt"))
            if stopped == "completed" and self.time_limit is not None and self._past(started + self.time_limit):
                stopped = "time_limit"
            if stopped != "completed":
                break
        return TrainResult(self.history, self.best_epoch, self.best_metrics, stopped)

    def _record(self, record: dict[str, Any]) -> None:
        """Keep an epoch's record: in the history, in ``log.jsonl`` and, with progress on, as one line."""
        self.history.append(record)
        self._write_log()
        if self.progress and self.process.is_main:
            print(self._summary(record), file=sys.stderr, flush=True)

    def _summary(self, record: dict[str, Any]) -> str:
        """One line per epoch for the progress display: loss, the monitored metric and the best so far."""
        parts = [f"epoch {record['epoch']}: loss {record['loss']:.4f}"]
        if "metrics" in record:
            label = self.monitor if self.evaluated_on is None else f"{self.evaluated_on} {self.monitor}"
            parts.append(
                f"{label} {record['metrics'][self.monitor]:.4f} "
                f"(best {self.best_metrics[self.monitor]:.4f} at epoch {self.best_epoch})"
            )
        seconds = record["seconds"] + record.get("eval_seconds", 0.0) + record.get("threshold_seconds", 0.0)
        parts.append(f"lr {record['lr']:.3g}, {seconds:.1f} s")
        return ", ".join(parts)

    def _past(self, deadline: float) -> bool:
        """Whether any rank is past ``deadline`` (all ranks must stop at the same epoch)."""
        late = torch.tensor([float(time.perf_counter() > deadline)], dtype=torch.float64)
        return bool(self.process.sum_(late)[0] > 0)

    def _reseed(self) -> None:
        """Batch order and top-K threshold draws (shared by all ranks), negatives and dropout (per rank)
        from (seed, epoch, rank)."""
        def derive(stream: int, rank: int) -> int:
            return int(np.random.SeedSequence([self.seed, self.epoch, stream, rank]).generate_state(1)[0])

        self.generator.manual_seed(derive(0, 0))
        if hasattr(self.sampler, "generator"):
            self.sampler.generator.manual_seed(derive(1, self.process.rank))
        torch.manual_seed(derive(2, self.process.rank))
        self.quantile_generator.manual_seed(derive(3, 0))

    def _train_epoch(self, batches: PairBatches) -> dict[str, float]:
        self.model.train()
        total, count, start = 0.0, 0, time.perf_counter()
        bar = _progress(len(batches), f"epoch {self.epoch}", self.progress and self.process.is_main)
        for users, items in batches:
            loss = self._step(users, items)
            total += loss * len(users)
            count += len(users)
            if bar is not None:
                bar.update(1)
                if bar.n % 20 == 0 or bar.n == len(batches):
                    bar.set_postfix(loss=f"{total / count:.4f}", ex_per_s=f"{count / (time.perf_counter() - start):,.0f}")
        if bar is not None:
            bar.close()
        totals = self.process.sum_(torch.tensor([total, count], dtype=torch.float64))
        seconds = time.perf_counter() - start
        total, count = float(totals[0]), int(totals[1])
        return {"loss": total / count, "seconds": seconds, "examples_per_s": count / seconds}

    def _step(self, users: torch.Tensor, items: torch.Tensor) -> float:
        """One optimizer step; negatives are drawn on the CPU, the model runs on ``device``."""
        extra: dict[str, torch.Tensor] = {}
        if self.log_q_correction:
            negatives, log_prob = self.sampler.sample_with_log_prob(users)
            extra["neg_log_prob"] = per_row(log_prob, users.numel()).to(self.device)
        else:
            negatives = self.sampler.sample(users)
        if self.top_k_quantile is not None:
            extra["pos_threshold"] = self.top_k_quantile.thresholds[users].to(self.device)
        mask = None
        if self._mask_collisions:
            mask = ~self.sampler.collision_mask(users, negatives).to(self.device)
        negatives = negatives.to(self.device)
        users, items = users.to(self.device), items.to(self.device)
        if self._loss_takes_groups:
            extra["pos_groups"] = users
        pos_scores, neg_scores = self.sync.module(users, items, negatives)
        loss = self.loss(pos_scores, neg_scores, mask, **extra) if extra else self.loss(pos_scores, neg_scores, mask)
        objective = loss + self.l2 * self.model.regularization(users, items, negatives) if self.l2 else loss
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
        return value

    # --------------------------------------------------------------------------- evaluation, guards
    def _evaluated_weights(self) -> AbstractContextManager[None]:
        """The weights that evaluations and collapse checks see: the average where one is kept."""
        return nullcontext() if self.average is None else self.average.applied()

    def _evaluate(self, record: dict[str, Any]) -> str:
        self.model.eval()
        start = time.perf_counter()
        with self._evaluated_weights():
            metrics = self.evaluator(self.model)
            record["eval_seconds"] = time.perf_counter() - start
            record["metrics"] = metrics
            if self.monitor not in metrics:
                raise MarginRankError(f"monitored metric {self.monitor!r} is not computed; available: {sorted(metrics)}")
            value = metrics[self.monitor]
            improved = self.best_epoch is None or value > self.best_metrics[self.monitor]
            if improved:
                self.best_epoch, self.best_metrics, self.stale_evaluations = self.epoch, dict(metrics), 0
                self.best_state = {k: v.detach().clone() for k, v in self.model.state_dict().items()}
        if improved and self.run_dir is not None and self.process.is_main:
            save_checkpoint({"format": CHECKPOINT_FORMAT, "epoch": self.epoch, "model": self.best_state,
                             "metrics": metrics}, self._path("best.pt"))
        if not improved:
            self.stale_evaluations += 1
        record["best_epoch"] = self.best_epoch
        if isinstance(self.scheduler, ReduceLROnPlateau):
            rates = [group["lr"] for group in self.optimizer.param_groups]
            self.scheduler.step(value)
            cut = any(group["lr"] < rate for group, rate in zip(self.optimizer.param_groups, rates))
            if cut and self.restore_best_on_lr_cut:
                self.restore_best()
                record["restored_best_epoch"] = self.best_epoch
        if self.patience is not None and self.stale_evaluations >= self.patience:
            return "early_stopping"
        return "completed"

    def _check_collapse(self, record: dict[str, Any], positives) -> str | None:
        self.model.eval()
        with self._evaluated_weights():
            report = self.collapse_monitor.check_model(self.model, positives, self.epoch)
        record["collapse"] = {"collapsed": report.collapsed, **report.stats}
        if not report.collapsed:
            return None
        if self.on_collapse == "stop":
            self._record(record)
            raise CollapseStop(report.message)
        warnings.warn(report.message, CollapseWarning, stacklevel=2)
        return None

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

    def state_dict(self) -> dict[str, Any]:
        return {
            "format": CHECKPOINT_FORMAT,
            "epoch": self.epoch,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "optimizer_class": type(self.optimizer).__name__,
            "scheduler": None if self.scheduler is None else self.scheduler.state_dict(),
            "history": json.dumps(self.history),
            "best_epoch": self.best_epoch,
            "best_metrics": self.best_metrics,
            "best_state": self.best_state,
            "stale_evaluations": self.stale_evaluations,
            "average": None if self.average is None else self.average.state_dict(),
            "collapse": None if self.collapse_monitor is None else self.collapse_monitor.state_dict(),
            "top_k_quantile": None if self.top_k_quantile is None else self.top_k_quantile.state_dict(),
        }

    def load_state_dict(self, state: dict[str, Any], *, source: str | Path | None = None) -> None:
        """Restore a :meth:`state_dict`; ``source`` (the file it came from) is named in any error."""
        where = None if source is None else str(source)
        if state.get("format") != CHECKPOINT_FORMAT:
            raise MarginRankError(f"checkpoint format {state.get('format')!r} is not {CHECKPOINT_FORMAT!r}", path=where)
        require_entries(state, ("epoch", "model", "optimizer", "scheduler", "history", "best_epoch", "best_metrics",
                                "best_state", "stale_evaluations"), where)
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
        self.best_state, self.stale_evaluations = state["best_state"], state["stale_evaluations"]
        if self.average is not None and state.get("average") is not None:
            self.average.load_state_dict(state["average"])
        if self.collapse_monitor is not None and state.get("collapse") is not None:
            self.collapse_monitor.load_state_dict(state["collapse"])
        if self.top_k_quantile is not None:
            if state.get("top_k_quantile") is None:
                raise MarginRankError("the checkpoint holds no top-K thresholds: it was trained without top-K weighting", path=where)
            self.top_k_quantile.load_state_dict(state["top_k_quantile"])

    def save(self, path: str | Path) -> None:
        """Write a checkpoint (rank 0 only: every rank holds the same replica)."""
        if self.process.is_main:
            save_checkpoint(self.state_dict(), path)

    def load(self, path: str | Path) -> None:
        self.load_state_dict(load_checkpoint(path), source=path)


def _progress(total: int, description: str, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, unit="batch", leave=False, dynamic_ncols=True)
