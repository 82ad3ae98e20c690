"""Collapse checks of an encoder's embeddings: the collapse monitor on a fixed labelled sample."""

from __future__ import annotations

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from marginrank.checks import require_choice
from marginrank.guards.monitor import CollapseMonitor, CollapseReport
from marginrank.training.callbacks import CollapseCheck
from marginrank.training.retrieval_evaluator import embed


class EmbeddingCollapseCheck(CollapseCheck):
    """After every epoch, :meth:`CollapseMonitor.check` on the embeddings ``E`` of ``features``
    (the scores ``E E^T``, positives = same label): its spread, relative spread and the effective
    rank of ``E`` go into the epoch's record; ``on_collapse`` ``"warn"`` or ``"stop"``.

    All embeddings near one point give a relative spread near 0 (every pair scores alike) and an
    effective rank near 1.
    """

    def __init__(self, monitor: CollapseMonitor, features: Tensor, labels: Tensor, on_collapse: str = "warn") -> None:
        self.monitor = monitor
        self.features = torch.as_tensor(features, dtype=torch.float32)
        labels = torch.as_tensor(labels).numpy()
        self.positives = sp.csr_matrix(labels[:, None] == labels[None, :])
        self.on_collapse = require_choice("on_collapse", on_collapse, ("warn", "stop"))

    def check(self, model: nn.Module, epoch: int) -> CollapseReport:
        embeddings = embed(model, self.features)
        return self.monitor.check(embeddings, embeddings, self.positives, epoch)
