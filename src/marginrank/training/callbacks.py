"""Per-epoch extras of a run as small hooks the loop calls: top-K threshold refreshes, collapse
checks, a replayed learning-rate schedule.

A callback's ``on_epoch_start`` runs before the epoch's batches, with the training model;
``on_epoch_end`` after its evaluation, with the weights evaluations see (the average, where one is
kept) in eval mode. Either may add entries to the epoch's record. ``state_dict`` is kept in
checkpoints under the callback's ``name``; a resumed run hands it back to ``load_state_dict``
(``None`` when the checkpoint has none).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

import scipy.sparse as sp
import torch
from torch import nn

from marginrank.checks import require, require_choice
from marginrank.errors import MarginRankError
from marginrank.guards.monitor import CollapseMonitor, CollapseReport
from marginrank.training.seeds import THRESHOLDS, EpochSeeds
from marginrank.training.tasks.base import Scores
from marginrank.training.top_k_quantile import TopKQuantile


class CollapseWarning(UserWarning):
    """A run shows the signs of collapse (see :mod:`marginrank.guards`)."""


class CollapseStop(MarginRankError):
    """Training stopped because it collapsed (``on_collapse="stop"``); ``record`` holds the check's entries."""

    def __init__(self, message: str, *, record: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.record = dict(record or {})


@runtime_checkable
class Callback(Protocol):
    name: str

    def on_epoch_start(self, model: nn.Module, epoch: int, seeds: EpochSeeds) -> dict[str, Any]: ...

    def on_epoch_end(self, model: nn.Module, epoch: int) -> dict[str, Any]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any] | None) -> None: ...


class TopKRefresh:
    """Re-estimate a :class:`TopKQuantile`'s thresholds from the model before every ``every``-th epoch."""

    name = "top_k_quantile"

    def __init__(self, quantile: TopKQuantile, positives: sp.spmatrix) -> None:
        self.quantile, self.positives = quantile, positives
        self.generator = torch.Generator()

    def on_epoch_start(self, model: nn.Module, epoch: int, seeds: EpochSeeds) -> dict[str, Any]:
        if not self.quantile.due(epoch):
            return {}
        self.generator.manual_seed(seeds.shared(THRESHOLDS))
        start = time.perf_counter()
        self.quantile.refresh(model, self.positives, self.generator)
        return {"threshold_seconds": time.perf_counter() - start}

    def on_epoch_end(self, model: nn.Module, epoch: int) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return self.quantile.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is None:
            raise MarginRankError("the checkpoint holds no top-K thresholds: it was trained without top-K weighting")
        self.quantile.load_state_dict(state)


class CollapseCheck:
    """:meth:`CollapseMonitor.check_model` after every epoch; ``on_collapse`` ``"warn"`` (a
    :class:`CollapseWarning`) or ``"stop"`` (:class:`CollapseStop`, after the epoch is recorded)."""

    name = "collapse"

    def __init__(self, monitor: CollapseMonitor, positives: sp.spmatrix, on_collapse: str = "warn") -> None:
        self.monitor, self.positives = monitor, positives
        self.on_collapse = require_choice("on_collapse", on_collapse, ("warn", "stop"))

    def on_epoch_start(self, model: nn.Module, epoch: int, seeds: EpochSeeds) -> dict[str, Any]:
        return {}

    def on_epoch_end(self, model: nn.Module, epoch: int) -> dict[str, Any]:
        return self.verdict(self.check(model, epoch))

    def check(self, model: nn.Module, epoch: int) -> CollapseReport:
        return self.monitor.check_model(model, self.positives, epoch)

    def verdict(self, report: CollapseReport) -> dict[str, Any]:
        """The epoch's record of ``report``; a collapse warns or stops."""
        record = {"collapse": {"collapsed": report.collapsed, **report.stats}}
        if report.collapsed:
            if self.on_collapse == "stop":
                raise CollapseStop(report.message, record=record)
            warnings.warn(report.message, CollapseWarning, stacklevel=3)
        return record

    def state_dict(self) -> dict[str, Any]:
        return self.monitor.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.monitor.load_state_dict(state)


class ScoreCollapseCheck(CollapseCheck):
    """:meth:`CollapseMonitor.check_scores` after every epoch, on the scores ``probe(model)`` gives
    (a fixed sample of examples, e.g. held-out groups), judged against the loss's ``margin``."""

    def __init__(
        self, monitor: CollapseMonitor, probe: Callable[[nn.Module], Scores], margin: float | None = None,
        on_collapse: str = "warn",
    ) -> None:
        self.monitor, self.probe, self.margin = monitor, probe, margin
        self.on_collapse = require_choice("on_collapse", on_collapse, ("warn", "stop"))

    def check(self, model: nn.Module, epoch: int) -> CollapseReport:
        with torch.no_grad():
            scores = self.probe(model)
        return self.monitor.check_scores(scores.pos, scores.neg, epoch, margin=self.margin, neg_mask=scores.mask)


class LearningRateReplay:
    """Train epoch ``e`` at ``rates[e - 1]``: the rates another run trained its epochs with (its
    log's ``lr``), set on every group of ``optimizer`` before the epoch's batches; no rates replay a
    run of no epochs (a refit of a best epoch 0)."""

    name = "learning_rate_replay"

    def __init__(self, optimizer: torch.optim.Optimizer, rates: Sequence[float]) -> None:
        self.optimizer, self.rates = optimizer, tuple(rates)

    def on_epoch_start(self, model: nn.Module, epoch: int, seeds: EpochSeeds) -> dict[str, Any]:
        require(epoch <= len(self.rates), f"epoch {epoch} is past the {len(self.rates)} epochs whose rates are replayed")
        for group in self.optimizer.param_groups:
            group["lr"] = self.rates[epoch - 1]
        return {}

    def on_epoch_end(self, model: nn.Module, epoch: int) -> dict[str, Any]:
        return {}

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        """Nothing to restore: an epoch's rate depends on the epoch alone."""
