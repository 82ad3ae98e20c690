"""Each user's top-K score threshold, for :class:`marginrank.losses.TopKWeighted` (SL@K)."""

from __future__ import annotations

import math

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from marginrank.checks import require_integer
from marginrank.errors import MarginRankError
from marginrank.sampling.membership import Membership


class TopKQuantile:
    """``beta_u``: the K-th highest score among user u's training positives and ``samples`` items
    drawn uniformly (with replacement; a draw that is one of u's positives is left out, so no
    positive counts twice).

    The Monte Carlo estimate of SL@K (Yang et al., KDD 2025, section 3.1.3 and Algorithm C.1):
    keeping every positive places the estimate where the top-K boundary usually lies, among the
    positives' scores; from a sample it sits at or a little below the exact K-th score, a milder
    cut. The paper draws per user; here one draw of ``samples`` items serves every user of a
    refresh, as a shared pool of negatives does: each user's estimate still rests on ``samples``
    uniform draws, the scores are one matrix product, and the result does not depend on how the
    users are chunked. Every threshold starts at 0 (Algorithm C.1, line 1) and :meth:`refresh`
    re-estimates all of them, which the trainer does before epochs ``every``, ``2 * every``, ...

    Args:
        n_users: rows of the threshold table.
        k: ``K`` [20], the cut-off whose boundary the weight targets.
        samples: items drawn [1000] (at least ``k``).
        every: re-estimate before every ``every``-th epoch [20] (the paper searches 5 and 20).
        chunk_size: users scored at once (memory ``chunk_size x (samples + most positives)`` floats).
    """

    def __init__(self, n_users: int, k: int = 20, samples: int = 1000, every: int = 20, chunk_size: int = 4096) -> None:
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
    def refresh(self, model: nn.Module, positives: sp.spmatrix, generator: torch.Generator) -> None:
        """Re-estimate every user's threshold from ``model``'s training scores (its ``user_factors``
        and ``item_factors`` under its training ``similarity``) and the training ``positives``
        (users x items); draws use ``generator``."""
        membership = Membership(positives)
        if membership.n_users != self.thresholds.numel():
            raise MarginRankError(
                f"the positives have {membership.n_users} users; the thresholds were built for {self.thresholds.numel()}"
            )
        user_vectors, item_vectors = model.user_factors(model.similarity), model.item_factors(model.similarity)
        pool = torch.randint(membership.n_items, (self.samples,), generator=generator)
        pool_vectors = item_vectors[pool.to(item_vectors.device)]
        for start in range(0, membership.n_users, self.chunk_size):
            users = torch.arange(start, min(start + self.chunk_size, membership.n_users))
            vectors = user_vectors[users.to(user_vectors.device)]
            drawn = (vectors @ pool_vectors.T).masked_fill(membership.hits_in_pool(users, pool).to(vectors.device), -math.inf)
            top = torch.cat([_positive_scores(membership, users, vectors, item_vectors), drawn], dim=1).topk(self.k, dim=1).values
            # fewer than K candidates (most draws were positives): every candidate is in the top K
            self.thresholds[users] = top.masked_fill(top == -math.inf, math.inf).amin(dim=1).float().cpu()

    def state_dict(self) -> dict[str, Tensor]:
        return {"thresholds": self.thresholds.clone()}

    def load_state_dict(self, state: dict[str, Tensor]) -> None:
        thresholds = state.get("thresholds")
        if not isinstance(thresholds, Tensor) or thresholds.shape != self.thresholds.shape:
            raise MarginRankError(f"the checkpoint's top-K thresholds do not fit {self.thresholds.numel()} users")
        self.thresholds = thresholds.float().clone()


def _positive_scores(membership: Membership, users: Tensor, vectors: Tensor, item_vectors: Tensor) -> Tensor:
    """``[len(users), most positives]``: each user's positives' scores, padded with -inf."""
    row, item = membership.row_entries(users)
    degree = membership.degree[users]
    slot = torch.arange(row.numel()) - (torch.cumsum(degree, 0) - degree)[row]
    device = vectors.device
    row, slot = row.to(device), slot.to(device)
    scores = (vectors[row] * item_vectors[item.to(device)]).sum(dim=1)
    padded = vectors.new_full((users.numel(), int(degree.max()) if users.numel() else 0), -math.inf)
    padded[row, slot] = scores
    return padded
