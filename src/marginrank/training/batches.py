"""Shuffled mini-batches of training pairs, reshuffled every epoch by a seeded generator."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch


class PairBatches:
    """Iterate ``(users [B], items [B])`` over all training pairs in a new random order each epoch.

    ``generator`` owns the order: saving its state with the checkpoint makes a resumed run draw the
    same batches as an uninterrupted one.
    """

    def __init__(self, users: np.ndarray, items: np.ndarray, batch_size: int, generator: torch.Generator) -> None:
        self.users = torch.as_tensor(users, dtype=torch.int64)
        self.items = torch.as_tensor(items, dtype=torch.int64)
        self.batch_size = batch_size
        self.generator = generator

    def __len__(self) -> int:
        return -(-len(self.users) // self.batch_size)

    @property
    def n_pairs(self) -> int:
        return len(self.users)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = torch.randperm(len(self.users), generator=self.generator)
        for start in range(0, len(order), self.batch_size):
            index = order[start : start + self.batch_size]
            yield self.users[index], self.items[index]
