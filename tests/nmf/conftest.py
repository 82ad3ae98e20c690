import numpy as np
import pytest


def planted(n: int = 40, m: int = 30, k: int = 3, observed: float = 0.5, seed: int = 0):
    """A rank-``k`` non-negative matrix with a random half of the entries missing (NaN)."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(0.2, 1.0, (n, k))
    H = rng.uniform(0.2, 1.0, (k, m))
    truth = W @ H
    mask = rng.random((n, m)) < observed
    mask[np.arange(n), rng.integers(0, m, n)] = True
    mask[rng.integers(0, n, m), np.arange(m)] = True
    X = np.where(mask, truth, np.nan)
    return X, mask, truth, W, H


@pytest.fixture
def make_planted():
    return planted


@pytest.fixture
def planted_matrix():
    return planted()
