"""Pruning a trial from its per-epoch validation metric.

:class:`ReportToTrial` is the ``on_evaluation`` hook a search hands to
:meth:`marginrank.Recommender.fit`: after every evaluated epoch it reports the monitored validation
metric to the Optuna trial, and when the study's pruner judges the trial behind the others at that
epoch it raises ``optuna.TrialPruned``, which ends the fit there (the epoch logged and checkpointed)
and marks the trial pruned.
"""

from __future__ import annotations

from typing import Any

from marginrank.tuning.dependency import import_optuna


class ReportToTrial:
    """``hook(epoch, metrics)``: ``trial.report(metrics[monitor], epoch)``, then prune if the pruner says so."""

    def __init__(self, trial: Any, monitor: str) -> None:
        self.trial, self.monitor = trial, monitor

    def __call__(self, epoch: int, metrics: dict[str, float]) -> None:
        value = metrics[self.monitor]
        self.trial.report(value, epoch)
        if self.trial.should_prune():
            raise import_optuna().TrialPruned(f"pruned at epoch {epoch}: validation {self.monitor} {value:.4f}")
