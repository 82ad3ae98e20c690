"""Collapse checks of an encoder's embeddings: the collapse monitor on a fixed labelled sample."""

from __future__ import annotations

import warnings
from typing import Any

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from marginrank.checks import require_choice
from marginrank.guards.monitor import CollapseMonitor
from marginrank.training.callbacks import CollapseStop, CollapseWarning
from marginrank.training.retrieval_evaluator import embed
from marginrank.training.seeds import EpochSeeds


class EmbeddingCollapseCheck:
    """After every epoch, :meth:`CollapseMonitor.check` on the embeddings ``E`` of ``features``
    (the scores ``E E^T``, positives = same label): its spread, relative spread and the effective
    rank of ``E`` go into the epoch's record; ``on_collapse`` ``"warn"`` or ``"stop"``.

    All embeddings near one point give a relative spread near 0 (every pair scores alike) and an
    effective rank near 1.
    """

    name = "collapse"

    def __init__(self, monitor: CollapseMonitor, features: Tensor, labels: Tensor, on_collapse: str = "warn") -> None:
        self.monitor = monitor
        self.features = torch.as_tensor(features, dtype=torch.float32)
        labels = torch.as_tensor(labels).numpy()
        self.positives = sp.csr_matrix(labels[:, None] == labels[None, :])
        self.on_collapse = require_choice("on_collapse", on_collapse, ("warn", "stop"))

    def on_epoch_start(self, model: nn.Module, epoch: int, seeds: EpochSeeds) -> dict[str, Any]:
        return {}

    def on_epoch_end(self, model: nn.Module, epoch: int) -> dict[str, Any]:
        embeddings = embed(model, self.features)
        report = self.monitor.check(embeddings, embeddings, self.positives, epoch)
        record = {"collapse": {"collapsed": report.collapsed, **report.stats}}
        if report.collapsed:
            if self.on_collapse == "stop":
                raise CollapseStop(report.message, record=record)
            warnings.warn(report.message, CollapseWarning, stacklevel=2)
        return record

    def state_dict(self) -> dict[str, Any]:
        return self.monitor.state_dict()

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if state is not None:
            self.monitor.load_state_dict(state)
