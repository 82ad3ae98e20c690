"""Ranking metrics and exact full-ranking evaluation."""

from marginrank.metrics.full_ranking import (
    FullRanker,
    MetricSums,
    evaluate_embeddings,
    evaluate_embeddings_sums,
    evaluate_popularity,
    popularity_scores,
    topk_metrics,
)
from marginrank.metrics.ranking import (
    METRIC_NAMES,
    hit_at_k,
    map_at_k,
    mrr_at_k,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from marginrank.metrics.split_checks import (
    EvaluationSplitWarning,
    TrainingOverlapWarning,
    UnseenInTrainingWarning,
    check_evaluation_split,
)

__all__ = [
    "EvaluationSplitWarning",
    "FullRanker",
    "METRIC_NAMES",
    "MetricSums",
    "TrainingOverlapWarning",
    "UnseenInTrainingWarning",
    "check_evaluation_split",
    "evaluate_embeddings",
    "evaluate_embeddings_sums",
    "evaluate_popularity",
    "hit_at_k",
    "map_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "popularity_scores",
    "precision_at_k",
    "recall_at_k",
    "topk_metrics",
]
