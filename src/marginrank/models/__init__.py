"""Scorers: :class:`MF` (user/item embeddings, cosine or dot) and :class:`MLPScorer` (items as features)."""

from marginrank.models.mf import MF, SIMILARITIES
from marginrank.models.mlp import MLPScorer

__all__ = ["MF", "MLPScorer", "SIMILARITIES"]
