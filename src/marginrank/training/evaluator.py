"""Full-ranking evaluation of a model's factors against one split, optionally split across ranks."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.sparse as sp
import torch

from marginrank.errors import MarginRankError
from marginrank.metrics import evaluate_embeddings_sums
from marginrank.metrics.full_ranking import evaluate_scorer_sums
from marginrank.models.base import ChunkScorer, FactorScorer
from marginrank.training.distributed import ProcessGroup


class Evaluator:
    """``evaluator(model) -> metrics``: rank all items for the users of ``target``, skipping ``exclude``.

    A :class:`~marginrank.models.base.FactorScorer` is ranked from its factors (one product per chunk
    of users into a reused buffer); any other :class:`~marginrank.models.base.ChunkScorer` through
    ``score_all`` on each chunk of users. In a process group each rank scores its share of the users and the sums are added up, so the
    result equals the one-process result.
    """

    def __init__(
        self, exclude: sp.csr_matrix, target: sp.csr_matrix, ks: Sequence[int] = (20,), *, seed: int = 0,
        chunk_size: int = 2048, process: ProcessGroup | None = None,
    ) -> None:
        self.exclude, self.target, self.ks = exclude, target, tuple(ks)
        self.seed, self.chunk_size = seed, chunk_size
        self.process = process or ProcessGroup()

    def __call__(self, model: torch.nn.Module) -> dict[str, float]:
        share = self.process.share(np.arange(self.target.shape[0])) if self.process.active else None
        options = dict(seed=self.seed, chunk_size=self.chunk_size, users=share)
        if isinstance(model, FactorScorer):
            with torch.no_grad():
                users, items = model.user_factors(), model.item_factors()
            sums = evaluate_embeddings_sums(users, items, self.exclude, self.target, self.ks, **options)
        elif isinstance(model, ChunkScorer):
            sums = evaluate_scorer_sums(model.score_all, self.exclude, self.target, self.ks, **options)
        else:
            raise MarginRankError(f"{type(model).__name__} can neither give factors nor score users against all items")
        if self.process.active:
            totals = self.process.sum_(torch.tensor([sums.n_users, *sums.sums.values()], dtype=torch.float64))
            sums.n_users = int(totals[0])
            sums.sums = dict(zip(sums.sums, totals[1:].tolist()))
        return sums.result()
