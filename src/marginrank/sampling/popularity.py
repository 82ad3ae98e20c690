"""Popularity-biased negative sampling, ``q(i) ∝ count_i ** alpha`` (word2vec's unigram^0.75)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

from marginrank.errors import MarginRankError
from marginrank.sampling.base import NegativeSampler
from marginrank.sampling.checks import canonical_csr


def item_counts(matrix: sp.spmatrix) -> np.ndarray:
    """Interactions per item: the column counts of a users x items matrix's stored non-zeros."""
    csr = canonical_csr(matrix, name="item_counts")
    return np.bincount(csr.indices, minlength=csr.shape[1])


class PopularitySampler(NegativeSampler):
    """Negatives drawn with ``q(i) = count_i**alpha / sum_j count_j**alpha`` (Mikolov et al., 2013).

    Args:
        item_counts: 1-D array of per-item counts (>= 0), or a scipy sparse users x items training
            matrix whose column counts are used.
        num_negatives, shared, exclude, replace, seed, group_size: as :class:`UniformSampler`.
        alpha: exponent; 0 is uniform over all items, 1 is proportional to popularity.

    Items with ``count**alpha == 0`` are never drawn.  Draws are an inverse-CDF search of a
    uniform variate in the cumulative weights.  :meth:`sample_with_log_prob` and
    :meth:`log_prob` give ``log q`` for the log-Q correction of sampled softmax
    (Bengio & Senecal, 2008; Yi et al., RecSys 2019): ``s_n - log q(n)``.

    >>> import torch
    >>> sampler = PopularitySampler([0, 1, 3], 4, seed=0, alpha=1.0)
    >>> items, log_q = sampler.sample_with_log_prob(torch.tensor([0]))
    >>> bool((items > 0).all()), torch.allclose(log_q.exp(), torch.tensor([0.25, 0.75])[items - 1])
    (True, True)
    """

    def __init__(
        self,
        item_counts: object,
        num_negatives: int,
        shared: bool = False,
        exclude: object | None = None,
        replace: bool = True,
        seed: int | None = None,
        alpha: float = 0.75,
        group_size: int | None = None,
    ) -> None:
        counts = self._check_counts(item_counts)
        if not np.isfinite(alpha) or alpha < 0:
            raise MarginRankError(f"alpha must be a finite number >= 0, got {alpha!r}")
        self.alpha = float(alpha)
        weights = torch.from_numpy(counts) ** self.alpha
        if float(weights.sum()) <= 0:
            raise MarginRankError("item_counts has no item with a positive count: nothing to sample")
        super().__init__(
            weights, num_negatives, shared=shared, exclude=exclude, replace=replace, seed=seed, group_size=group_size
        )
        self._cumulative = torch.cumsum(weights, 0)
        self._last_drawable = int((weights > 0).nonzero().max())

    @staticmethod
    def _check_counts(values: object) -> np.ndarray:
        if sp.issparse(values):
            return item_counts(values).astype(np.float64)
        try:
            counts = np.asarray(values, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise MarginRankError(f"item_counts must be a 1-D array of numbers: {error}") from None
        if counts.ndim != 1 or counts.size == 0:
            raise MarginRankError(f"item_counts must be a non-empty 1-D array, got shape {counts.shape}")
        if not np.all(np.isfinite(counts)) or counts.min() < 0:
            raise MarginRankError("item_counts must be finite and >= 0")
        return counts

    def _propose(self, count: int) -> torch.Tensor:
        targets = torch.rand(count, dtype=torch.float64, generator=self.generator) * self._total_weight
        found = torch.searchsorted(self._cumulative, targets, right=True)
        return found.clamp_max_(self._last_drawable)
