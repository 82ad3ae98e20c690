"""ALS sweeps against the exact normal equations, solved user by user in NumPy."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank.models.implicit_als import START_ALPHA, START_REGULARIZATION, als_start, als_sweeps
from marginrank.models.spectral_init import cosine_ready, low_pass

ALPHA, REG = 5.0, 0.3


def exact_half(pairs: np.ndarray, fixed: np.ndarray) -> np.ndarray:
    """Each row's minimizer of sum_i c_ui (p_ui - x . y_i)^2 + reg |x|^2, c = 1 + alpha p, by a dense solve."""
    solved = []
    for row in pairs:
        confidence = 1.0 + ALPHA * row
        system = fixed.T @ (confidence[:, None] * fixed) + REG * np.eye(fixed.shape[1])
        solved.append(np.linalg.solve(system, fixed.T @ (confidence * row)))
    return np.array(solved)


def objective(pairs: np.ndarray, users: np.ndarray, items: np.ndarray) -> float:
    confidence = 1.0 + ALPHA * pairs
    return float((confidence * (pairs - users @ items.T) ** 2).sum() + REG * ((users**2).sum() + (items**2).sum()))


@pytest.fixture
def problem():
    rng = np.random.default_rng(0)
    pairs = (rng.random((30, 20)) < 0.25).astype(np.float64)
    pairs[5] = 0.0  # a user without pairs
    return pairs, rng.normal(size=(30, 3)), rng.normal(size=(20, 3))


def test_one_sweep_solves_each_side_exactly_with_as_many_factors_as_steps(problem):
    """Conjugate gradients solve a 3 x 3 system exactly in 3 steps: one sweep is the exact ALS sweep."""
    pairs, users, items = problem
    got_users, got_items = als_sweeps(sp.csr_matrix(pairs), torch.tensor(users, dtype=torch.float32),
                                      torch.tensor(items, dtype=torch.float32), 1, alpha=ALPHA, regularization=REG)
    want_users = exact_half(pairs, items)
    want_items = exact_half(pairs.T, want_users)
    np.testing.assert_allclose(got_users.numpy(), want_users, atol=2e-4)
    np.testing.assert_allclose(got_items.numpy(), want_items, atol=2e-4)
    assert np.allclose(got_users.numpy()[5], 0.0, atol=1e-6)  # nothing observed: the zero vector


def test_every_sweep_lowers_the_objective(problem):
    pairs, users, items = problem
    users, items = torch.tensor(users, dtype=torch.float32), torch.tensor(items, dtype=torch.float32)
    values = [objective(pairs, users.numpy(), items.numpy())]
    for _ in range(4):
        users, items = als_sweeps(sp.csr_matrix(pairs), users, items, 1, alpha=ALPHA, regularization=REG)
        values.append(objective(pairs, users.numpy(), items.numpy()))
    assert all(later < earlier for earlier, later in zip(values, values[1:]))


def test_the_start_ranks_unseen_items_of_each_users_community_first():
    """Three planted communities, each user with about half of its community's items: from the start
    alone every user ranks its community's unseen items above the other communities' items, under
    cosine scores (every item vector has the same norm)."""
    own = np.kron(np.eye(3), np.ones((15, 12))).astype(bool)
    seen = own & (np.random.default_rng(1).random(own.shape) < 0.5)
    users, items = als_start(sp.csr_matrix(seen.astype(np.float32)), dim=4)
    assert users.shape == (45, 4) and items.shape == (36, 4)
    np.testing.assert_allclose(np.linalg.norm(items, axis=1), np.linalg.norm(items, axis=1).max(), rtol=1e-5)
    scores = users @ items.T
    assert all(scores[u][own[u] & ~seen[u]].min() > scores[u][~own[u]].max() for u in range(45))


@pytest.mark.parametrize("dim, sweeps, other", [(128, 3, 2), (130, 2, 3)])
def test_the_start_sweeps_three_times_up_to_128_wide_and_twice_beyond(dim, sweeps, other):
    pairs = sp.csr_matrix((np.random.default_rng(2).random((300, 260)) < 0.05).astype(np.float32))
    _, low = low_pass(pairs, dim - 1)
    low = torch.from_numpy(low / np.linalg.norm(low, axis=1).max())

    def swept(times: int) -> np.ndarray:
        users, items = als_sweeps(pairs, torch.zeros(300, dim - 1), low, times, alpha=START_ALPHA,
                                  regularization=START_REGULARIZATION)
        return cosine_ready(users.numpy(), items.numpy(), dim)[1]

    _, items = als_start(pairs, dim)
    np.testing.assert_allclose(items, swept(sweeps), atol=1e-6)
    assert not np.allclose(items, swept(other), atol=1e-4)
