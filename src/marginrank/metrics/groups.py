"""Per-group (per-query) metrics of a learning-to-rank model's scores, averaged over the groups.

- ``ndcg@k``: graded gains ``2^rel - 1`` and discounts ``1 / log2(rank + 1)`` (Burges et al. 2005;
  LightGBM's and LETOR's definition), over the groups with a relevant row (an ideal DCG above 0).
- ``map``, ``mrr``, ``precision@k``: relevance is ``rel > 0``; over the groups with a relevant row.

Within a group, rows are ranked by descending score, equal scores in their order in the group.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import Tensor

from marginrank.checks import require_integer
from marginrank.data.groups import RankingGroups
from marginrank.errors import MarginRankError
from marginrank.metrics.ranking import map_at_k, mrr_at_k, precision_at_k

DEFAULT_CUTOFFS = (1, 3, 5, 10)


def group_metrics(scores: Tensor | np.ndarray, groups: RankingGroups, ks: Sequence[int] = DEFAULT_CUTOFFS) -> dict[str, float]:
    """``{"ndcg@k", "precision@k" for k in ks, "map", "mrr"}`` of ``scores [R]`` (one per row of ``groups``)."""
    scores = torch.as_tensor(np.asarray(scores, dtype=np.float64))
    if scores.shape != groups.labels.shape:
        raise MarginRankError(f"expected one score per row, {groups.labels.shape[0]}; got shape {list(scores.shape)}")
    if not bool(torch.isfinite(scores).all()):
        raise MarginRankError("scores hold NaN or inf: the model has diverged (try a lower learning rate)")
    for k in ks:
        require_integer("cut-off k", k, 1)
    rows = groups.padded_rows()
    valid = rows >= 0
    padded_scores = torch.where(valid, scores[rows.clamp_min(0)], -torch.inf)
    labels = torch.where(valid, groups.labels.double()[rows.clamp_min(0)], 0.0)
    order = torch.sort(padded_scores, dim=1, descending=True, stable=True).indices
    ranked = labels.gather(1, order).numpy()
    judged = (ranked > 0).any(axis=1)
    if not judged.any():
        raise MarginRankError("no group has a relevant row (label > 0): nothing to rank")
    width = max(ranked.shape[1], *ks)
    padding = ((0, 0), (0, width - ranked.shape[1]))
    ranked = np.pad(ranked, padding)[judged]
    ideal = np.pad(torch.sort(labels, dim=1, descending=True).values.numpy(), padding)[judged]
    hits = ranked > 0
    n_relevant = hits.sum(axis=1)
    gains, ideal_gains = np.exp2(ranked) - 1, np.exp2(ideal) - 1
    discounts = 1.0 / np.log2(np.arange(2, width + 2))
    metrics = {f"ndcg@{k}": float(((gains[:, :k] @ discounts[:k]) / (ideal_gains[:, :k] @ discounts[:k])).mean()) for k in ks}
    metrics.update({f"precision@{k}": float(precision_at_k(hits, n_relevant, k).mean()) for k in ks})
    metrics["map"] = float(map_at_k(hits, n_relevant, width).mean())
    metrics["mrr"] = float(mrr_at_k(hits, n_relevant, width).mean())
    return metrics
