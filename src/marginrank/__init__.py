"""marginrank: embedding rankers trained with margin and contrastive losses that do not collapse."""

from marginrank.errors import MarginRankError

__version__ = "0.1.0"
__all__ = ["MarginRankError", "__version__"]
