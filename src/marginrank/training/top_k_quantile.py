"""Each user's top-K score threshold, for :class:`marginrank.losses.TopKWeighted` (SL@K)."""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from marginrank.checks import require_integer
from marginrank.errors import MarginRankError


class TopKQuantile:
    """``beta_u``: the K-th highest score among user u's training positives and ``samples`` items
    drawn uniformly for u (with replacement; a draw that is one of u's positives is left out, so
    no positive counts twice).

    The Monte Carlo estimate of SL@K (Yang et al., KDD 2025, section 3.1.3 and Algorithm C.1):
    keeping every positive places the estimate where the top-K boundary usually lies, among the
    positives' scores; from a sample it sits at or a little below the exact K-th score, a milder
    cut. Every threshold starts at 0 (Algorithm C.1, line 1) and :meth:`refresh` re-estimates all
    of them, which the trainer does before epochs ``every``, ``2 * every``, ...

    Args:
        n_users: rows of the threshold table.
        k: ``K`` [20], the cut-off whose boundary the weight targets.
        samples: items drawn per user [1000] (at least ``k``).
        every: re-estimate before every ``every``-th epoch [20] (the paper searches 5 and 20).
        chunk_size: users scored at once (memory ``chunk_size x n_items`` floats).
    """

    def __init__(self, n_users: int, k: int = 20, samples: int = 1000, every: int = 20, chunk_size: int = 1024) -> None:
        self.k = require_integer("k", k, minimum=1)
        self.samples = require_integer("samples", samples, minimum=1)
        if self.samples < self.k:
            raise MarginRankError(f"top-K thresholds need at least k = {self.k} sampled items per user; got samples = {self.samples}")
        self.every = require_integer("every", every, minimum=1)
        self.chunk_size = require_integer("chunk_size", chunk_size, minimum=1)
        self.thresholds = torch.zeros(require_integer("n_users", n_users, minimum=1))

    def due(self, epoch: int) -> bool:
        """Whether the thresholds are re-estimated before ``epoch`` (counted from 1)."""
        return epoch % self.every == 0

    @torch.no_grad()
    def refresh(self, model: nn.Module, positives: sp.csr_matrix, generator: torch.Generator) -> None:
        """Re-estimate every user's threshold from ``model``'s scores (its ``user_factors`` and
        ``item_factors``) and the training ``positives`` (users x items); draws use ``generator``."""
        positives = sp.csr_matrix(positives)
        n_users, n_items = positives.shape
        if n_users != self.thresholds.numel():
            raise MarginRankError(f"the positives have {n_users} users; the thresholds were built for {self.thresholds.numel()}")
        user_vectors, item_vectors = model.user_factors(), model.item_factors()
        device = item_vectors.device
        for start in range(0, n_users, self.chunk_size):
            stop = min(start + self.chunk_size, n_users)
            scores = user_vectors[start:stop] @ item_vectors.T
            is_positive = _positive_mask(positives, start, stop, device)
            drawn = torch.randint(n_items, (stop - start, self.samples), generator=generator).to(device)
            minus_inf = scores.new_full((), -math.inf)
            drawn_scores = torch.where(is_positive.gather(1, drawn), minus_inf, scores.gather(1, drawn))
            top_positives = torch.where(is_positive, scores, minus_inf).topk(min(self.k, n_items), dim=1).values
            top = torch.cat([top_positives, drawn_scores], dim=1).topk(self.k, dim=1).values
            # fewer than K candidates (most draws were positives): every candidate is in the top K
            self.thresholds[start:stop] = top.masked_fill(top == -math.inf, math.inf).amin(dim=1).float().cpu()

    def state_dict(self) -> dict[str, Tensor]:
        return {"thresholds": self.thresholds.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        thresholds = state.get("thresholds")
        if not isinstance(thresholds, Tensor) or thresholds.shape != self.thresholds.shape:
            raise MarginRankError(f"the checkpoint's top-K thresholds do not fit {self.thresholds.numel()} users")
        self.thresholds = thresholds.float().clone()


def _positive_mask(positives: sp.csr_matrix, start: int, stop: int, device: torch.device) -> Tensor:
    """Bool ``[stop - start, n_items]``: True where the user of that row has the item as a positive."""
    counts = np.diff(positives.indptr[start : stop + 1])
    rows = torch.from_numpy(np.repeat(np.arange(stop - start), counts))
    cols = torch.from_numpy(positives.indices[positives.indptr[start] : positives.indptr[stop]].astype(np.int64))
    mask = torch.zeros(stop - start, positives.shape[1], dtype=torch.bool)
    mask[rows, cols] = True
    return mask.to(device)
