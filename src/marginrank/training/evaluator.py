"""Full-ranking evaluation of a model's factors against one split."""

from __future__ import annotations

from collections.abc import Sequence

import scipy.sparse as sp
import torch

from marginrank.metrics import evaluate_embeddings


class Evaluator:
    """``evaluator(model) -> metrics``: rank all items for the users of ``target``, skipping ``exclude``.

    The model provides ``user_factors()`` and ``item_factors()`` whose dot product is its score.
    """

    def __init__(
        self, exclude: sp.csr_matrix, target: sp.csr_matrix, ks: Sequence[int] = (20,), *, seed: int = 0,
        chunk_size: int = 2048,
    ) -> None:
        self.exclude, self.target, self.ks = exclude, target, tuple(ks)
        self.seed, self.chunk_size = seed, chunk_size

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        with torch.no_grad():
            users, items = model.user_factors(), model.item_factors()
        return evaluate_embeddings(
            users, items, self.exclude, self.target, self.ks, seed=self.seed, chunk_size=self.chunk_size
        )
