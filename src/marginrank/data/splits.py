"""Per-user splits. Each returns ``(kept, held_out)`` in the same index space as its input."""

from __future__ import annotations

import numpy as np

from marginrank.checks import require_integer, require_number
from marginrank.data.arguments import require_interactions
from marginrank.data.interactions import Interactions
from marginrank.errors import MarginRankError


def _rank_within_user(users: np.ndarray, order_key: np.ndarray) -> np.ndarray:
    """0-based position of each pair within its user when sorted by ``order_key`` (ascending)."""
    order = np.lexsort((order_key, users))
    sorted_users = users[order]
    starts = np.searchsorted(sorted_users, sorted_users, side="left")
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts
    return rank


def _split(interactions: Interactions, held_out: np.ndarray) -> tuple[Interactions, Interactions]:
    return interactions.select(~held_out), interactions.select(held_out)


def holdout_split(
    interactions: Interactions, test_ratio: float = 0.2, *, seed: int = 0, min_kept: int = 1
) -> tuple[Interactions, Interactions]:
    """Per-user random holdout: each user keeps ``round((1 - ratio) * n)`` of their n items, at least
    ``min_kept``; the rest is held out. Users with at most ``min_kept`` items hold out nothing.

    Also the way to carve a validation split out of train: ``train, valid = holdout_split(train, 0.1)``.
    """
    require_interactions(interactions, "holdout_split")
    if not 0.0 < require_number("test_ratio", test_ratio) < 1.0:
        raise MarginRankError(f"test_ratio must be in (0, 1), got {test_ratio}")
    seed, min_kept = require_integer("the split seed", seed, 0), require_integer("min_kept", min_kept, 0)
    rng = np.random.default_rng(seed)
    rank = _rank_within_user(interactions.users, rng.random(len(interactions)))
    counts = interactions.user_counts()
    n_held = np.where(counts > min_kept, np.minimum(np.rint(test_ratio * counts), counts - min_kept), 0)
    n_held = np.maximum(n_held, (counts > min_kept).astype(np.int64))
    return _split(interactions, rank < n_held[interactions.users])


def leave_last_out(interactions: Interactions, n: int = 1, *, min_kept: int = 1) -> tuple[Interactions, Interactions]:
    """Hold out each user's ``n`` most recent items by timestamp (equal times: the larger item index
    counts as newer).

    Users with at most ``min_kept`` items hold out nothing.
    """
    require_interactions(interactions, "leave_last_out")
    n, min_kept = require_integer("n", n, 1), require_integer("min_kept", min_kept, 0)
    if interactions.timestamps is None:
        raise MarginRankError("leave_last_out needs timestamps; these interactions have none", path=interactions.source)
    newest_first = np.lexsort((-interactions.items, -interactions.timestamps))
    rank = _rank_within_user(interactions.users, np.argsort(newest_first))
    counts = interactions.user_counts()
    n_held = np.where(counts > min_kept, np.minimum(n, counts - min_kept), 0)
    return _split(interactions, rank < n_held[interactions.users])
