"""A built-in dataset with planted structure: no files, no downloads, deterministic given a seed.

Users and items get latent vectors drawn around a few shared "taste" clusters; each item also has
a Zipf-like popularity. User u picks n_u distinct items with probability proportional to
``popularity_i ** pop_weight * exp(<z_u, z_i> / temperature)`` (Gumbel top-k, so no loop per user).
A model that learns the latent vectors clearly beats the popularity ranking; a model that does not
learn (or collapses) does no better than popularity.
"""

from __future__ import annotations

import numpy as np

from marginrank.data.dataset import Dataset
from marginrank.data.interactions import Interactions
from marginrank.data.splits import holdout_split
from marginrank.errors import MarginRankError


def make_synthetic(
    n_users: int = 2000,
    n_items: int = 1000,
    *,
    dim: int = 16,
    n_clusters: int = 8,
    mean_items_per_user: int = 30,
    popularity_skew: float = 1.0,
    pop_weight: float = 0.5,
    temperature: float = 0.1,
    test_ratio: float = 0.2,
    seed: int = 0,
) -> Dataset:
    """The synthetic dataset: train/test per-user random holdout of the planted interactions."""
    if n_users < 1 or n_items < 2 or not 1 <= mean_items_per_user < n_items:
        raise MarginRankError("synthetic data needs n_users >= 1, n_items >= 2 and 1 <= mean_items_per_user < n_items")
    rng = np.random.default_rng(seed)
    centers = rng.normal(size=(n_clusters, dim))
    centers /= np.linalg.norm(centers, axis=1, keepdims=True)

    def vectors(count: int) -> np.ndarray:
        points = centers[rng.integers(n_clusters, size=count)] + 0.35 * rng.normal(size=(count, dim))
        return points / np.linalg.norm(points, axis=1, keepdims=True)

    user_vectors, item_vectors = vectors(n_users), vectors(n_items)
    popularity = 1.0 / np.arange(1, n_items + 1) ** popularity_skew
    popularity = popularity[rng.permutation(n_items)]
    counts = np.clip(rng.poisson(mean_items_per_user, size=n_users), 5, n_items - 1)

    logits = user_vectors @ item_vectors.T / temperature + pop_weight * np.log(popularity)[None, :]
    perturbed = logits + rng.gumbel(size=logits.shape)
    ranked = np.argsort(-perturbed, axis=1)
    taken = np.arange(n_items)[None, :] < counts[:, None]
    users = np.repeat(np.arange(n_users), counts)
    items = ranked[taken]
    everything = Interactions.from_pairs(users, items, user_ids=n_users, item_ids=n_items, source="synthetic")
    train, test = holdout_split(everything, test_ratio, seed=seed)
    return Dataset("synthetic", train, test)
