"""Retrieval metrics of embeddings by exact k-nearest neighbours over labels: Precision@1,
R-Precision, MAP@R and Recall@k.

Each query ranks every reference by similarity (ties: the lower reference index first); its
relevant references are those with its label, ``R`` of them (the query itself excluded when the
queries are the references). Source: Musgrave, Belongie & Lim, "A Metric Learning Reality Check",
ECCV 2020 (R-Precision, MAP@R); Recall@k is the metric-learning one (Jégou et al. 2011, Oh Song et
al. 2016): whether any of the k nearest is relevant.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from marginrank.checks import require, require_integer
from marginrank.models.similarity import pairwise_similarity


def retrieval_metrics(
    queries: Tensor,
    query_labels: Tensor,
    references: Tensor | None = None,
    reference_labels: Tensor | None = None,
    *,
    similarity: str = "cosine",
    ks: Sequence[int] = (1, 2, 4, 8),
    chunk_size: int = 1024,
) -> dict[str, float]:
    """Mean over the queries with ``R >= 1`` of:

    - ``precision@1``: whether the nearest reference is relevant;
    - ``r_precision``: the relevant fraction of the ``R`` nearest;
    - ``map@r``: ``(1/R) sum_{i <= R} rel_i * P@i``, the mean precision at the relevant ranks
      within the first ``R``;
    - ``recall@k`` for each ``k`` in ``ks``: whether any of the ``k`` nearest is relevant.

    ``references=None`` searches the queries themselves, leaving each query out of its own list
    (held-out classes: every sample queries the others). ``queries`` counts the queries that entered.

    >>> import torch
    >>> x = torch.tensor([[0.0], [0.1], [1.0], [1.2]])
    >>> m = retrieval_metrics(x, torch.tensor([0, 0, 1, 0]), similarity="euclidean", ks=(1,))
    >>> m["map@r"] == (1 / 2 + 1 / 2 + (1 / 2) / 2) / 3    # query 2 has no other of its class
    True
    """
    queries = torch.as_tensor(queries, dtype=torch.float32)
    query_labels = torch.as_tensor(query_labels, dtype=torch.int64)
    leave_one_out = references is None
    references = queries if references is None else torch.as_tensor(references, dtype=torch.float32)
    reference_labels = query_labels if reference_labels is None else torch.as_tensor(reference_labels, dtype=torch.int64)
    require(queries.dim() == 2 and query_labels.shape == (len(queries),), "queries must be [Q, d] with one label each")
    require(references.dim() == 2 and reference_labels.shape == (len(references),) and references.shape[1] == queries.shape[1],
            "references must be [N, d] (the queries' width) with one label each")
    ks = tuple(require_integer("k", k, 1, len(references) - leave_one_out) for k in ks)
    require_integer("chunk_size", chunk_size, 1)
    sums: dict[str, float] = {"precision@1": 0.0, "r_precision": 0.0, "map@r": 0.0, **{f"recall@{k}": 0.0 for k in ks}}
    counted = 0
    for start in range(0, len(queries), chunk_size):
        rows = torch.arange(start, min(start + chunk_size, len(queries)))
        scores = pairwise_similarity(queries[rows], references, similarity)
        relevant = query_labels[rows, None] == reference_labels[None, :]
        if leave_one_out:
            scores[torch.arange(len(rows)), rows] = float("-inf")
            relevant[torch.arange(len(rows)), rows] = False
        n_relevant = relevant.sum(dim=1)
        entered = n_relevant > 0
        order = torch.sort(scores[entered], dim=1, descending=True, stable=True).indices
        hits = relevant[entered].gather(1, order)
        r = n_relevant[entered]
        ranks = torch.arange(1, hits.shape[1] + 1)
        within_r = ranks[None, :] <= r[:, None]
        hits_within = (hits & within_r).double()
        sums["precision@1"] += float(hits[:, 0].double().sum())
        sums["r_precision"] += float((hits_within.sum(dim=1) / r).sum())
        sums["map@r"] += float(((hits_within * hits.double().cumsum(dim=1) / ranks).sum(dim=1) / r).sum())
        for k in ks:
            sums[f"recall@{k}"] += float(hits[:, :k].any(dim=1).double().sum())
        counted += int(entered.sum())
    require(counted > 0, "no query has a relevant reference (a label shared with another sample)")
    return {**{name: value / counted for name, value in sums.items()}, "queries": float(counted)}
