"""marginrank: embedding rankers trained with margin and contrastive losses that do not collapse."""

from marginrank.allocator import tune_allocator

tune_allocator()

from marginrank import datasets  # noqa: E402
from marginrank.errors import MarginRankError  # noqa: E402
from marginrank.recommender import Recommender  # noqa: E402

__version__ = "0.1.0"
__all__ = ["MarginRankError", "Recommender", "__version__", "datasets"]
