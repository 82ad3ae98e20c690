"""The contract between a negative source and a training task: ``draw(users, pos_items) -> Drawn``.

A :class:`~marginrank.sampling.base.NegativeSampler` draws from a proposal (per example, one shared
pool, or one pool per group of rows) and masks the known positives a shared pool may hold;
:class:`~marginrank.sampling.in_batch.InBatchNegatives` uses the batch's own positives.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from torch import Tensor


@dataclass
class Drawn:
    """Negatives for a batch of ``B`` rows.

    ``items``: ``[B, N]`` per example, ``[N]`` one shared pool or ``[G, N]`` grouped pools
    (:mod:`marginrank.sampling.layout`); ``valid``: bool ``[B, N]``, False where the negative must not
    count (a known positive of the row's user), or None (all count); ``log_prob``: ``log q`` of each
    drawn item in the layout of ``items`` when asked for (the log-Q correction), else None.
    """

    items: Tensor
    valid: Tensor | None = None
    log_prob: Tensor | None = None


@runtime_checkable
class NegativeSource(Protocol):
    """What a training task draws its negatives (or mining candidates) from."""

    def draw(self, users: Tensor, pos_items: Tensor, *, with_log_prob: bool = False) -> Drawn: ...
