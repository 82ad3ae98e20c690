"""Pairwise similarities of embeddings, higher = more alike: what label tasks score and k-NN ranks by."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_choice

SIMILARITIES = ("cosine", "dot", "euclidean")


def pairwise_similarity(queries: Tensor, references: Tensor, kind: str) -> Tensor:
    """``[Q, d] x [N, d] -> [Q, N]``: ``"cosine"`` ``cos(q, r)``, ``"dot"`` ``q . r`` or
    ``"euclidean"`` ``-||q - r||_2`` (``torch.cdist``, as PML's ``LpDistance``; normalize the
    embeddings first for its default)."""
    require_choice("similarity", kind, SIMILARITIES)
    if kind == "cosine":
        unit = F.normalize(queries, dim=-1)
        return unit @ (unit if references is queries else F.normalize(references, dim=-1)).T
    if kind == "dot":
        return queries @ references.T
    return -torch.cdist(queries, references)
