"""The contract between the training loop and a task: how a batch becomes scores for a loss.

The loop owns what every run shares (epochs, optimizer, schedules, averaging, evaluation, early
stopping, checkpoints, progress, collapse checks, distributed sync). A task owns its data and how
one of its batches becomes ``(pos_scores [B], neg_scores [B, N], neg_mask, loss extras)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from marginrank.training.seeds import EpochSeeds


@dataclass
class Scores:
    """A batch scored for a loss: ``loss(pos, neg, mask, **extras)``. ``rows`` are the ids the batch
    used, as the model's ``regularization(*rows)`` takes them (the loop multiplies it by its L2 weight)."""

    pos: Tensor
    neg: Tensor
    mask: Tensor | None
    rows: tuple[Tensor, ...]
    extras: dict[str, Tensor] = field(default_factory=dict)


@runtime_checkable
class Task(Protocol):
    """What the loop asks of a task.

    ``loss_keywords`` are the loss keywords the task hands over in ``Scores.extras`` and that the
    loss must take; ``optional_keywords`` are handed over only to a loss that takes them.
    """

    loss_keywords: frozenset[str]
    optional_keywords: frozenset[str]

    def __len__(self) -> int:
        """Batches per epoch (on this rank)."""
        ...

    def begin_epoch(self, epoch: int, seeds: EpochSeeds) -> None:
        """Reseed the task's own random draws for ``epoch`` (counted from 1)."""
        ...

    def batches(self) -> Iterator[Any]:
        """The epoch's batches, in the order the loop trains on them."""
        ...

    def scores(self, scorer: nn.Module, batch: Any, device: torch.device) -> Scores:
        """``batch`` scored by ``scorer`` (the model, or its distributed wrapper) on ``device``."""
        ...
