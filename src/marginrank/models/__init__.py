"""Scorers: the registered recommender models (:class:`MF`, :class:`LightGCN`; see
:mod:`marginrank.models.registry`) and :class:`MLPScorer` (items as features,
:class:`Standardized` for raw features)."""

from marginrank.models.base import SIMILARITIES, ChunkScorer, EmbeddingModel, FactorScorer, PairScorer
from marginrank.models.ensemble import ScoreEnsemble
from marginrank.models.lightgcn import LightGCN
from marginrank.models.mf import MF
from marginrank.models.mlp import MLPScorer
from marginrank.models.registry import MODELS
from marginrank.models.standardized import Standardized

__all__ = [
    "ChunkScorer", "EmbeddingModel", "FactorScorer", "LightGCN", "MF", "MLPScorer", "MODELS", "PairScorer", "SIMILARITIES", "ScoreEnsemble",
    "Standardized",
]
