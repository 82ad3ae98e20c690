"""Shuffled mini-batches of training pairs, reshuffled every epoch by a seeded generator."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


class PairBatches:
    """Iterate ``(users, items)`` over all training pairs in a new random order each epoch.

    ``generator`` owns the order (the trainer reseeds it per epoch, so a resumed run draws the
    same batches as an uninterrupted one). With ``world_size > 1`` every rank walks the same
    global batches of ``batch_size`` pairs and takes its contiguous share of each.
    """

    def __init__(
        self, users: np.ndarray, items: np.ndarray, batch_size: int, generator: torch.Generator,
        *, rank: int = 0, world_size: int = 1,
    ) -> None:
        self.users = torch.as_tensor(users, dtype=torch.int64)
        self.items = torch.as_tensor(items, dtype=torch.int64)
        self.batch_size = batch_size
        self.generator = generator
        self.rank, self.world_size = rank, world_size

    def __len__(self) -> int:
        return -(-len(self.users) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.users), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            if len(batch) < self.world_size:  # a last batch too small to give every rank a pair
                break
            index = batch.tensor_split(self.world_size)[self.rank]
            yield self.users[index], self.items[index]
