"""Top-K metrics as functions of a hit matrix.

``hits[u, r]`` is True when the item ranked at position r (0-based) for user u is one of u's test
items; ``n_relevant[u]`` is u's number of test items. Every function returns per-user values at
cut-off ``k`` (``k <= hits.shape[1]``); averaging is the caller's job.
"""

from __future__ import annotations

import numpy as np

METRIC_NAMES = ("recall", "ndcg", "precision", "hit", "mrr", "map")


def recall_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Recall@k = |hits in the top k| / |test items of the user|."""
    return hits[:, :k].sum(axis=1) / n_relevant


def precision_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Precision@k = |hits in the top k| / k."""
    return hits[:, :k].sum(axis=1) / k


def hit_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """Hit@k = 1 if any test item is in the top k, else 0."""
    return hits[:, :k].any(axis=1).astype(np.float64)


def _discounts(k: int) -> np.ndarray:
    return 1.0 / np.log2(np.arange(2, k + 2))


def ndcg_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """NDCG@k with binary gains: DCG = sum_{r<k} hit_r / log2(r + 2); IDCG = DCG of min(|test|, k) hits."""
    discounts = _discounts(k)
    dcg = hits[:, :k] @ discounts
    ideal = np.concatenate([[0.0], np.cumsum(discounts)])
    return dcg / ideal[np.minimum(n_relevant, k)]


def mrr_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """MRR@k = 1 / (rank of the first hit), 1-based, if it is in the top k, else 0."""
    top = hits[:, :k]
    first = top.argmax(axis=1)
    return np.where(top.any(axis=1), 1.0 / (first + 1), 0.0)


def map_at_k(hits: np.ndarray, n_relevant: np.ndarray, k: int) -> np.ndarray:
    """MAP@k = sum of precision@r over the hit positions r <= k, divided by min(|test|, k)."""
    top = hits[:, :k].astype(np.float64)
    precision_at_r = np.cumsum(top, axis=1) / np.arange(1, k + 1)
    return (precision_at_r * top).sum(axis=1) / np.minimum(n_relevant, k)


METRICS = {
    "recall": recall_at_k,
    "ndcg": ndcg_at_k,
    "precision": precision_at_k,
    "hit": hit_at_k,
    "mrr": mrr_at_k,
    "map": map_at_k,
}
