"""Mini-batches of training pairs, drawn anew every epoch by a seeded generator."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch

from marginrank.checks import require_choice

POSITIVE_SAMPLING = ("pairs", "users")


class PairBatches:
    """Iterate ``(users, items)`` batches, ``len(users)`` training pairs per epoch.

    - ``positive_sampling="pairs"``: every training pair once per epoch, in a new random order (BPR's
      bootstrap over interactions without replacement; the BSL, SimpleX and MMCL code).
    - ``"users"``: each draw takes a user uniformly among those with training pairs, then one of its
      pairs uniformly (LightGCN's sampler), with replacement. Every user then weighs the same in the
      loss, as in the user-averaged metrics (Recall@K, NDCG@K), instead of in proportion to its count.

    ``generator`` owns the draws (the trainer reseeds it per epoch, so a resumed run draws the same
    batches as an uninterrupted one). With ``world_size > 1`` every rank walks the same global
    batches of ``batch_size`` pairs and takes its contiguous share of each.
    """

    def __init__(
        self, users: np.ndarray, items: np.ndarray, batch_size: int, generator: torch.Generator,
        *, positive_sampling: str = "pairs", rank: int = 0, world_size: int = 1,
    ) -> None:
        self.users = torch.as_tensor(users, dtype=torch.int64)
        self.items = torch.as_tensor(items, dtype=torch.int64)
        self.batch_size = batch_size
        self.generator = generator
        self.positive_sampling = require_choice("positive_sampling", positive_sampling, POSITIVE_SAMPLING)
        self.rank, self.world_size = rank, world_size
        if positive_sampling == "users":  # pair indices grouped by user: a user's pairs are by_user[start:start + count]
            self._by_user = torch.argsort(self.users, stable=True)
            counts = torch.bincount(self.users)
            self._active = counts.nonzero().squeeze(1)
            self._counts = counts[self._active]
            self._starts = (counts.cumsum(0) - counts)[self._active]

    def __len__(self) -> int:
        return -(-len(self.users) // self.batch_size)

    def _draw_order(self) -> torch.Tensor:
        """Pair indices of one epoch."""
        if self.positive_sampling == "pairs":
            return torch.randperm(len(self.users), generator=self.generator)
        picked = torch.randint(len(self._active), (len(self.users),), generator=self.generator)
        offsets = (torch.rand(len(self.users), generator=self.generator, dtype=torch.float64) * self._counts[picked]).long()
        return self._by_user[self._starts[picked] + offsets]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self._draw_order()
        for start in range(0, len(order), self.batch_size):
            batch = order[start : start + self.batch_size]
            if len(batch) < self.world_size:  # a last batch too small to give every rank a pair
                break
            index = batch.tensor_split(self.world_size)[self.rank]
            yield self.users[index], self.items[index]
