"""Collapse statistics of a scorer: how much the scores vary, and whether positives score higher.

All functions are pure: they read vectors or scores and return plain floats (computed in float64).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from marginrank.errors import MarginRankError

TINY = 1e-300  # guards divisions by a zero norm or spread in float64


def effective_rank(vectors: Tensor) -> float:
    """``exp(H(p))`` with ``p_k = sigma_k / sum_j sigma_j`` the normalized singular values of ``vectors``.

    Source: Roy & Vetterli, "The effective rank: a measure of effective dimensionality", EUSIPCO 2007.
    It is 1 when the rows lie on one line, ``min(rows, cols)`` when all singular values are equal,
    and 0 for an all-zero matrix (by convention here).
    """
    matrix = _as_matrix(vectors, "vectors")
    singular = torch.linalg.svdvals(matrix)
    total = singular.sum()
    if total <= 0:
        return 0.0
    p = singular / total
    return float(torch.exp(-torch.special.xlogy(p, p).sum()))


def collapse_stats(user_vectors: Tensor, item_vectors: Tensor, positives: sp.spmatrix) -> dict[str, float]:
    """Statistics of the scores ``S = U I^T`` of ``U`` sampled users over all items.

    ``positives`` holds the items of those ``U`` users (row ``r`` = user ``r`` of ``user_vectors``,
    ``U x n_items``), usually their training items.

    Returns:
        spread: mean over users of the standard deviation of the user's scores over all items.
        mean_abs_score: mean of ``|S|``.
        relative_spread: ``spread / mean_abs_score``, scale-free (about 1.25 for random vectors).
        gap: mean over users of (mean score of their positives - mean score of their other items).
        standardized_gap: the same per-user gap divided by that user's spread, averaged
            (scale-free; 0 for a model that ranks at random).
        user_norm, item_norm: mean L2 norms of the given user and item vectors.
        effective_rank: :func:`effective_rank` of the item vectors.
        users_with_positives: how many users entered the gaps (those with 0 < positives < n_items).
    """
    users, items = _as_matrix(user_vectors, "user_vectors"), _as_matrix(item_vectors, "item_vectors")
    if users.shape[1] != items.shape[1]:
        raise MarginRankError(f"user and item vectors differ in width: {users.shape[1]} vs {items.shape[1]}")
    if not sp.issparse(positives) or positives.shape != (users.shape[0], items.shape[0]):
        shape = positives.shape if sp.issparse(positives) else type(positives).__name__
        raise MarginRankError(
            f"positives must be a scipy sparse matrix of {users.shape[0]} users x {items.shape[0]} items; got {shape}"
        )
    scores = users @ items.T
    user_spread = scores.std(dim=1, correction=0)
    is_positive = torch.from_numpy(sp.csr_matrix(positives).astype(bool).toarray())
    n_positive = is_positive.sum(dim=1)
    has_both = (n_positive > 0) & (n_positive < items.shape[0])
    zero = torch.zeros((), dtype=scores.dtype)
    mean_positive = torch.where(is_positive, scores, zero).sum(1) / n_positive.clamp_min(1)
    mean_other = torch.where(is_positive, zero, scores).sum(1) / (items.shape[0] - n_positive).clamp_min(1)
    gap = (mean_positive - mean_other)[has_both]
    standardized = gap / user_spread[has_both].clamp_min(TINY)
    spread = float(user_spread.mean())
    mean_abs = float(scores.abs().mean())
    return {
        "spread": spread,
        "mean_abs_score": mean_abs,
        "relative_spread": spread / max(mean_abs, TINY),
        "gap": float(gap.mean()) if len(gap) else 0.0,
        "standardized_gap": float(standardized.mean()) if len(gap) else 0.0,
        "user_norm": float(users.norm(dim=1).mean()),
        "item_norm": float(items.norm(dim=1).mean()),
        "effective_rank": effective_rank(items),
        "users_with_positives": float(has_both.sum()),
    }


def score_stats(pos_scores: Tensor, neg_scores: Tensor, neg_mask: Tensor | None = None) -> dict[str, float]:
    """Statistics of the scores a loss sees, for scorers without embeddings (e.g. :class:`MLPScorer`).

    Per row, the candidates are the positive and its N negatives (those ``neg_mask`` [B, N] marks
    True, where it is given; a row needs one).

    Returns:
        spread: mean over rows of the standard deviation of the row's candidate scores.
        mean_abs_score, relative_spread: as in :func:`collapse_stats`.
        gap: mean of ``s_p - mean_j s_nj``; standardized_gap: that gap over the row's spread, averaged.
        hardest_gap: mean of ``s_p - max_j s_nj`` (the max-margin loss is ``relu(m - hardest_gap)``).
        pairwise_accuracy: fraction of (positive, negative) pairs ordered correctly, ties count 1/2.
    """
    pos, neg = _as_float64(pos_scores, "pos_scores"), _as_float64(neg_scores, "neg_scores")
    if pos.dim() != 1 or neg.dim() != 2 or neg.shape[0] != pos.shape[0] or neg.numel() == 0:
        raise MarginRankError(f"expected pos_scores [B] and neg_scores [B, N]; got {list(pos.shape)}, {list(neg.shape)}")
    valid = torch.ones(neg.shape, dtype=torch.float64) if neg_mask is None else neg_mask.detach().cpu().to(torch.float64)
    if valid.shape != neg.shape or bool((valid.sum(dim=1) == 0).any()):
        raise MarginRankError(f"neg_mask must be [B, N] = {list(neg.shape)} with a valid negative in every row")
    count = valid.sum(dim=1)
    neg_mean = (neg * valid).sum(dim=1) / count
    row_mean = (pos + neg_mean * count) / (count + 1)
    row_spread = (((pos - row_mean).square() + ((neg - row_mean[:, None]).square() * valid).sum(dim=1)) / (count + 1)).sqrt()
    row_gap = pos - neg_mean
    spread = float(row_spread.mean())
    mean_abs = float(((pos.abs() + (neg.abs() * valid).sum(dim=1)) / (count + 1)).mean())
    ordered = ((pos[:, None] > neg).double() + 0.5 * (pos[:, None] == neg).double()) * valid
    hardest = torch.where(valid > 0, neg, -torch.inf).amax(dim=1)
    return {
        "spread": spread,
        "mean_abs_score": mean_abs,
        "relative_spread": spread / max(mean_abs, TINY),
        "gap": float(row_gap.mean()),
        "standardized_gap": float((row_gap / row_spread.clamp_min(TINY)).mean()),
        "hardest_gap": float((pos - hardest).mean()),
        "pairwise_accuracy": float(ordered.sum() / valid.sum()),
    }


def _as_float64(values: object, name: str) -> Tensor:
    if isinstance(values, np.ndarray):
        values = torch.from_numpy(values)
    if not isinstance(values, Tensor):
        raise MarginRankError(f"{name} must be a torch tensor or numpy array; got {type(values).__name__}")
    values = values.detach().to("cpu", torch.float64)
    if not torch.isfinite(values).all():
        raise MarginRankError(f"{name} contains NaN or inf: the model has diverged (try a lower learning rate)")
    return values


def _as_matrix(values: object, name: str) -> Tensor:
    matrix = _as_float64(values, name)
    if matrix.dim() != 2 or matrix.shape[0] == 0:
        raise MarginRankError(f"{name} must be a non-empty 2-D [rows, dim] matrix; got shape {list(matrix.shape)}")
    return matrix
