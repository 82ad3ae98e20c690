"""marginrank: embedding rankers trained with margin and contrastive losses that do not collapse."""

from marginrank import datasets
from marginrank.errors import MarginRankError
from marginrank.metric_learner import MetricLearner
from marginrank.recommender import Recommender

__version__ = "0.1.0"
__all__ = ["MarginRankError", "MetricLearner", "Recommender", "__version__", "datasets"]
