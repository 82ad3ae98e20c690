"""Triplet margin loss on embeddings, for metric learning."""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from marginrank.checks import require_choice
from marginrank.errors import MarginRankError
from marginrank.losses.base import Reduction
from marginrank.losses.pairwise_hinge import PairwiseHinge

Distance = Literal["euclidean", "cosine"]
DISTANCES: tuple[str, ...] = ("euclidean", "cosine")


class Triplet(nn.Module):
    """Triplet loss: ``mean_j relu(m + d(a, p) - d(a, n_j))``.

    Source: Schroff et al., "FaceNet", CVPR 2015 (one negative; here averaged over N). Distances
    become higher-is-better scores ``s = -d`` and go through :class:`PairwiseHinge`, so the masking,
    reduction and checks are the hinge's.

    Args:
        margin: ``m`` [1.0] (>= 0).
        distance: ``"euclidean"`` (``||a - x||_2``) or ``"cosine"`` (``1 - cos(a, x)``) [euclidean].
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    Shape:
        ``anchor [B, d]``, ``positive [B, d]``, ``negatives [B, N, d]``, ``neg_mask`` bool ``[B, N]``
        or None; output ``[B]`` or a scalar. A row with no valid negative contributes 0.
    """

    def __init__(self, margin: float = 1.0, distance: Distance = "euclidean", reduction: Reduction = "mean") -> None:
        super().__init__()
        self.distance = require_choice("distance", distance, DISTANCES)
        self.hinge = PairwiseHinge(margin=margin, reduction=reduction)

    def forward(self, anchor: Tensor, positive: Tensor, negatives: Tensor, neg_mask: Tensor | None = None) -> Tensor:
        _check_embeddings(anchor, positive, negatives)
        pos_scores = -self._distance(anchor, positive)
        neg_scores = -self._distance(anchor.unsqueeze(1), negatives)
        return self.hinge(pos_scores, neg_scores, neg_mask)

    def _distance(self, anchor: Tensor, other: Tensor) -> Tensor:
        if self.distance == "euclidean":
            return torch.linalg.vector_norm(anchor - other, dim=-1)
        return 1 - F.cosine_similarity(anchor, other, dim=-1)

    def extra_repr(self) -> str:
        return f"distance={self.distance!r}"


def _check_embeddings(anchor: object, positive: object, negatives: object) -> None:
    if not all(isinstance(t, Tensor) and t.is_floating_point() for t in (anchor, positive, negatives)):
        raise MarginRankError("anchor, positive and negatives must be floating-point torch tensors")
    if (
        anchor.dim() != 2
        or positive.shape != anchor.shape
        or negatives.dim() != 3
        or negatives.shape[0] != anchor.shape[0]
        or negatives.shape[2] != anchor.shape[1]
    ):
        raise MarginRankError(
            f"expected anchor [B, d], positive [B, d], negatives [B, N, d]; got {list(anchor.shape)}, "
            f"{list(positive.shape)}, {list(negatives.shape)}"
        )
