"""marginrank: embedding rankers trained with margin and contrastive losses that do not collapse."""

from marginrank import datasets
from marginrank.errors import MarginRankError
from marginrank.metric_learner import MetricLearner
from marginrank.ranker import Ranker
from marginrank.recommender import Recommender

__version__ = "0.1.0"
__all__ = ["MarginRankError", "MetricLearner", "Ranker", "Recommender", "__version__", "datasets"]
