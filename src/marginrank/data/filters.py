"""Filters over interactions: k-core and rating threshold."""

from __future__ import annotations

import numpy as np

from marginrank.checks import require_integer, require_number
from marginrank.data.arguments import require_interactions
from marginrank.data.interactions import Interactions
from marginrank.errors import MarginRankError


def k_core(interactions: Interactions, k: int = 10, *, item_k: int | None = None) -> Interactions:
    """Repeatedly drop users with fewer than ``k`` and items with fewer than ``item_k`` (default ``k``)
    pairs until none is left to drop, then re-index the survivors (raw ids are kept)."""
    require_interactions(interactions, "k_core")
    k = require_integer("k", k, 1)
    item_k = k if item_k is None else require_integer("item_k", item_k, 1)
    keep = np.ones(len(interactions), dtype=bool)
    while True:
        user_counts = np.bincount(interactions.users[keep], minlength=interactions.n_users)
        item_counts = np.bincount(interactions.items[keep], minlength=interactions.n_items)
        new_keep = keep & (user_counts[interactions.users] >= k) & (item_counts[interactions.items] >= item_k)
        if new_keep.sum() == keep.sum():
            break
        keep = new_keep
    return interactions.select(keep).compact()


def rating_threshold(interactions: Interactions, min_rating: float) -> Interactions:
    """Keep pairs rated at least ``min_rating`` (e.g. 4 of 5 stars as positive feedback)."""
    require_interactions(interactions, "rating_threshold")
    min_rating = require_number("min_rating", min_rating)
    if interactions.ratings is None:
        raise MarginRankError("rating_threshold needs ratings; these interactions have none", path=interactions.source)
    return interactions.select(interactions.ratings >= min_rating)
