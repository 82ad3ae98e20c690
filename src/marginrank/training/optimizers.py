"""Optimizers by name, for dense or sparse (row-wise) embedding gradients."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from marginrank.checks import require_positive
from marginrank.errors import MarginRankError
from marginrank.training.row_adam import RowAdam

OPTIMIZERS = ("adam", "adagrad", "sgd")


def make_optimizer(name: str, parameters: Iterable[torch.nn.Parameter], lr: float, *, sparse: bool = False) -> torch.optim.Optimizer:
    """``adam``, ``adagrad`` or ``sgd``. With ``sparse=True`` (embeddings that produce sparse
    gradients) Adam becomes :class:`RowAdam`: only the rows a batch touches are updated ("lazy Adam"),
    at a cost that does not grow with the table; Adagrad and SGD take sparse gradients as they are.
    Dense Adam uses PyTorch's fused kernel.

    Lazy Adam moves a row only in the steps that touch it; with shared or grouped negatives many
    item rows are touched rarely, and on Gowalla it learned far slower per epoch than dense Adam
    (Recall@20 0.010 vs 0.077 after two epochs), so dense fused Adam is the default."""
    require_positive("lr", lr)
    parameters = list(parameters)
    if name == "adam":
        if sparse:
            return RowAdam(parameters, lr=lr)
        # the fused kernel updates every row in one pass: about 6x faster than the default on a CPU
        return torch.optim.Adam(parameters, lr=lr, fused=all(p.device.type in ("cpu", "cuda") for p in parameters))
    if name == "adagrad":
        return torch.optim.Adagrad(parameters, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    raise MarginRankError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
