"""Uniform negative sampling over the catalogue, optionally excluding each user's known positives."""

from __future__ import annotations

import torch

from marginrank.sampling.base import NegativeSampler
from marginrank.sampling.checks import positive_int


class UniformSampler(NegativeSampler):
    """Negatives drawn uniformly: ``q(i) = 1 / n_items`` (``1 / (n_items - |P(u)|)`` with ``exclude``).

    Args:
        n_items: catalogue size; items are ``0 .. n_items - 1``.
        num_negatives: N per example (``[B, N]``) or the shared pool size (``[N]``, ``shared=True``,
            so scoring is one ``[B, d] x [d, N]`` product).
        shared: one pool for the batch.  ``exclude`` then only feeds :meth:`collision_mask`.
        exclude: scipy sparse CSR users x items of known positives, never returned per example.
        replace: False forbids repeats within a row / within the pool.
        seed: seed of the owned ``torch.Generator``.
        group_size: with ``shared``, one pool per group of this many consecutive rows
            (``[ceil(B / group_size), N]``); see :class:`NegativeSampler`.

    >>> import scipy.sparse as sp, torch
    >>> seen = sp.csr_matrix(([1, 1], ([0, 0], [0, 1])), shape=(2, 4))
    >>> sampler = UniformSampler(4, 3, exclude=seen, seed=0)
    >>> negatives = sampler.sample(torch.tensor([0, 1]))
    >>> negatives.shape, bool((negatives[0] >= 2).all())
    (torch.Size([2, 3]), True)
    """

    def __init__(
        self,
        n_items: int,
        num_negatives: int,
        shared: bool = False,
        exclude: object | None = None,
        replace: bool = True,
        seed: int | None = None,
        group_size: int | None = None,
    ) -> None:
        n_items = positive_int("n_items", n_items)
        super().__init__(
            torch.ones(n_items, dtype=torch.float64),
            num_negatives,
            shared=shared,
            exclude=exclude,
            replace=replace,
            seed=seed,
            group_size=group_size,
        )

    def _propose(self, count: int) -> torch.Tensor:
        return torch.randint(self.n_items, (count,), generator=self.generator)
