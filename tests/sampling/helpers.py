"""Shared helpers for the sampling tests: random sparse interaction matrices and a set oracle."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp


def random_interactions(n_users: int, n_items: int, density: float, seed: int) -> sp.csr_matrix:
    """A random binary users x items CSR matrix."""
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    return sp.csr_matrix(dense.astype(np.float32))


def positives_of(matrix: sp.csr_matrix) -> list[set[int]]:
    """Known positives per user, as Python sets (the naive oracle)."""
    return [set(matrix.indices[matrix.indptr[u] : matrix.indptr[u + 1]].tolist()) for u in range(matrix.shape[0])]
