"""Optimizers by name, for dense or sparse (row-wise) embedding gradients."""

from __future__ import annotations

from collections.abc import Iterable

import torch

from marginrank.errors import MarginRankError
from marginrank.training.row_adam import RowAdam

OPTIMIZERS = ("adam", "adagrad", "sgd")


def make_optimizer(name: str, parameters: Iterable[torch.nn.Parameter], lr: float, *, sparse: bool = False) -> torch.optim.Optimizer:
    """``adam``, ``adagrad`` or ``sgd``. With ``sparse=True`` (embeddings that produce sparse
    gradients) Adam becomes :class:`RowAdam`: only the rows a batch touches are updated ("lazy Adam"),
    at a cost that does not grow with the table; Adagrad and SGD take sparse gradients as they are."""
    if lr <= 0:
        raise MarginRankError(f"learning rate must be positive, got {lr}")
    parameters = list(parameters)
    if name == "adam":
        return RowAdam(parameters, lr=lr) if sparse else torch.optim.Adam(parameters, lr=lr)
    if name == "adagrad":
        return torch.optim.Adagrad(parameters, lr=lr)
    if name == "sgd":
        return torch.optim.SGD(parameters, lr=lr)
    raise MarginRankError(f"unknown optimizer {name!r}; choose one of: {', '.join(OPTIMIZERS)}")
