"""Property: with ``exclude``, no returned negative is a known positive of its row's user."""

import numpy as np
import scipy.sparse as sp
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from marginrank.sampling import PopularitySampler, UniformSampler


@st.composite
def interactions(draw):
    """Random sparse matrices where some users hold nearly every item (one or no item left)."""
    n_users = draw(st.integers(1, 8))
    n_items = draw(st.integers(2, 40))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    density = draw(st.floats(0.0, 0.6))
    dense = rng.random((n_users, n_items)) < density
    for user in range(n_users):
        kind = draw(st.sampled_from(["random", "one_left", "few_left"]))
        if kind != "random":
            left = 1 if kind == "one_left" else draw(st.integers(1, n_items - 1))
            free = rng.choice(n_items, size=left, replace=False)
            dense[user] = True
            dense[user, free] = False
    return sp.csr_matrix(dense.astype(np.float32))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    matrix=interactions(),
    num_negatives=st.integers(1, 30),
    replace=st.booleans(),
    popularity=st.booleans(),
    seed=st.integers(0, 2**31 - 1),
)
def test_no_negative_is_a_known_positive(matrix, num_negatives, replace, popularity, seed):
    n_users, n_items = matrix.shape
    dense = matrix.toarray() > 0
    free = n_items - dense.sum(axis=1)
    needed = 1 if replace else num_negatives
    users = np.flatnonzero(free >= needed)
    if users.size == 0:
        return
    users = torch.from_numpy(np.repeat(users, 3))
    if popularity:
        counts = np.arange(1, n_items + 1, dtype=np.float64) ** 2
        sampler = PopularitySampler(counts, num_negatives, exclude=matrix, replace=replace, seed=seed)
    else:
        sampler = UniformSampler(n_items, num_negatives, exclude=matrix, replace=replace, seed=seed)
    draws = sampler.sample(users).numpy()
    assert draws.shape == (users.numel(), num_negatives)
    assert not dense[users.numpy()[:, None], draws].any()
    if not replace:
        assert all(len(set(row)) == num_negatives for row in draws.tolist())
