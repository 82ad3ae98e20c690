"""Embeddings that start where a closed-form recommender ends: the top singular vectors of the
degree-normalized interaction matrix.

With ``R~ = D_u^-1/2 R D_i^-1/2`` and ``V`` its top ``dim - 1`` right singular vectors (a randomized
truncated SVD, :func:`right_singular_vectors`), user ``u``'s dot product with ``V_i`` is
``sum_{j in R_u} D_j^-1/2 V_j . V_i``: the ideal low-pass graph filter of GF-CF (Shen et al., "How
Powerful is Graph Convolution for Recommendation?", CIKM 2021), a ranking that needs no training.

A cosine model ranks by angles, which drop the item norms that this ranking depends on. The last
coordinate restores them (the inner-product-to-cosine transform of Bachrach et al., RecSys 2014):
every item gets ``sqrt(M^2 - |V_i|^2)`` there, with ``M`` the largest ``|V_i|``, and every user 0, so
all items have norm ``M`` and the cosine ranking is the dot-product ranking. Rows are then scaled to
norm ``scale`` (users) and at most ``scale`` (items): large enough for the start to survive the
first optimizer steps, small enough that Adam moves them at the default learning rate.

Measured here as the start of the BSL-800 MF (cosine, dim 64, default settings): Recall@20 on the
test split before any training 0.0583 (Yelp2018) and 0.1310 (Gowalla), after 3 epochs 0.0669 and
0.1664, against 0.0565 and 0.1368 from the normal init (``benchmarks/anytime.py`` has the curves).
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp
import torch

from marginrank.models.propagation import degree_normalized

POWER_ITERATIONS = 2
ROW_SCALE = 0.1


def low_pass_factors(
    pairs: sp.csr_matrix, dim: int, seed: int = 0, scale: float = ROW_SCALE
) -> tuple[np.ndarray, np.ndarray]:
    """``(users [n_users, dim], items [n_items, dim])`` float32 factors of ``pairs`` (users x items)
    whose dot products and whose cosines both rank items as the low-pass filter does.

    >>> pairs = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 4))))   # two blocks of users and items
    >>> users, items = low_pass_factors(pairs, dim=3)
    >>> scores = users @ items.T
    >>> bool((scores[:3, :4].min() > scores[:3, 4:].max()) and (scores[3:, 4:].min() > scores[3:, :4].max()))
    True
    """
    users, items = low_pass(pairs, dim - 1, seed)
    return cosine_ready(users, items, dim, scale)


def low_pass(pairs: sp.csr_matrix, rank: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(users [n_users, rank], items [n_items, rank])``: the items of :func:`low_pass_items` and
    ``users = R D_i^-1/2 V``, whose dot products with them are the low-pass filter's scores."""
    binary = (sp.csr_matrix(pairs) != 0).astype(np.float32)
    items = low_pass_items(binary, rank, seed)
    item_degree = np.maximum(np.asarray(binary.sum(axis=0)).ravel(), 1.0)
    users = np.asarray(binary @ (items * item_degree[:, None] ** -0.5), dtype=np.float32)
    return users, items


def low_pass_items(pairs: sp.csr_matrix, rank: int, seed: int = 0) -> np.ndarray:
    """``V [n_items, rank]``: the top ``rank`` right singular vectors of ``D_u^-1/2 R D_i^-1/2``
    (fewer columns where the matrix is smaller; zero beyond them)."""
    normalized = degree_normalized(pairs)
    found = min(rank, *normalized.shape)
    items = np.zeros((normalized.shape[1], rank), dtype=np.float32)
    if found > 0:
        items[:, :found] = right_singular_vectors(normalized, found, POWER_ITERATIONS, seed)
    return items


def right_singular_vectors(matrix: sp.spmatrix, rank: int, power_iterations: int, seed: int = 0) -> np.ndarray:
    """The top ``rank`` right singular vectors ``[n_columns, rank]`` (float32) of a sparse ``A``: the
    randomized range finder with subspace iteration (Halko, Martinsson and Tropp, SIAM Review 2011,
    Algorithms 4.4 and 5.1) run on ``A^T``. ``Q = orth(A^T G)``, then ``power_iterations`` times
    ``Q = orth(A^T orth(A Q))``; with ``A Q = P T`` (QR) and ``T = U S W^T``, the vectors are ``Q W``.

    For a matrix with fewer rows than columns (users x items) this is what ``torch.svd_lowrank``
    computes, which converts the transpose again for every product with it and takes the SVD of the
    wide ``rank x n_columns`` projection; here the transpose is built once and the SVD is that of the
    small triangle ``T``: 0.44 s against 0.76 s at rank 127 on Gowalla, 0.17 s against 0.42 s at
    rank 63 on Yelp2018 (``benchmarks/svd_speed.py``).

    >>> matrix = sp.csr_matrix(np.diag([9.0, 3.0, 0.1]))
    >>> np.round(np.abs(right_singular_vectors(matrix, 2, power_iterations=2)), 4).tolist()
    [[1.0, 0.0], [0.0, 1.0], [0.0, 0.0]]
    """
    forward, backward = csr_tensor(matrix), csr_tensor(sp.csr_matrix(matrix).T)
    sample = torch.randn(matrix.shape[0], rank, generator=torch.Generator().manual_seed(seed))
    basis = _orthonormal(torch.sparse.mm(backward, sample))
    for _ in range(power_iterations):
        basis = _orthonormal(torch.sparse.mm(backward, _orthonormal(torch.sparse.mm(forward, basis))))
    triangle = torch.linalg.qr(torch.sparse.mm(forward, basis), mode="r").R
    _, _, right = torch.linalg.svd(triangle)
    return (basis @ right.T).numpy()


def _orthonormal(columns: torch.Tensor) -> torch.Tensor:
    """An orthonormal basis of the span of ``columns`` (reduced QR)."""
    return torch.linalg.qr(columns).Q


def csr_tensor(matrix: sp.spmatrix) -> torch.Tensor:
    """``matrix`` as a float32 torch CSR tensor, indices sorted. Torch's CSR products are several
    times faster than its COO ones on a CPU: the randomized SVD of Yelp2018's normalized matrix at
    rank 127 takes 0.8 s from CSR against 2.2 s from COO (2 threads).

    >>> csr_tensor(sp.csr_matrix([[0.0, 2.0], [1.0, 0.0]])).to_dense().tolist()
    [[0.0, 2.0], [1.0, 0.0]]
    """
    matrix = sp.csr_matrix(matrix, dtype=np.float32)
    matrix.sort_indices()
    with warnings.catch_warnings():  # torch calls its CSR layout beta; these kernels are the ones used here
        warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta", UserWarning)
        return torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)), torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data), matrix.shape, check_invariants=False,
        )


def cosine_ready(users: np.ndarray, items: np.ndarray, dim: int, scale: float = ROW_SCALE) -> tuple[np.ndarray, np.ndarray]:
    """Factors ``[n, dim]`` from ``[n, dim - 1]`` ones, ranking as their dot products do under dot
    and under cosine scores: items get ``sqrt(M^2 - |v_i|^2)`` in the last coordinate (users 0), so
    every item has norm ``M``; then users are scaled to norm ``scale`` and items to at most ``scale``."""
    users = np.hstack([users, np.zeros((len(users), 1), dtype=np.float32)])
    items = np.hstack([items, np.zeros((len(items), 1), dtype=np.float32)])
    norms = np.linalg.norm(items, axis=1)
    largest = norms.max()
    if largest == 0:
        return users, items
    items[:, -1] = np.sqrt(np.maximum(largest**2 - norms**2, 0.0))
    items *= scale / largest
    user_norms = np.linalg.norm(users, axis=1, keepdims=True)
    users = np.divide(users * scale, user_norms, out=np.zeros_like(users), where=user_norms > 0)
    return users, items.astype(np.float32)


def lift_cosines(users: np.ndarray, items: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray]:
    """Factors one column wider whose cosines are ``floor + (1 - floor) * cos``: every row becomes
    ``|x| [sqrt(1 - floor) x / |x|, sqrt(floor)]``, so norms and each user's ranking are kept and
    unrelated pairs (cosine near 0) sit near ``floor``. A margin loss on cosines then sees its
    negatives at its lowest margin from the first step instead of far below it.

    >>> users, items = lift_cosines(np.array([[1.0, 0.0]]), np.array([[0.0, 2.0], [1.0, 0.0]]), 0.6)
    >>> np.linalg.norm(items, axis=1).tolist(), np.round(users @ items.T / [2.0, 1.0], 4).tolist()  # norms, cosines
    ([2.0, 1.0], [[0.6, 1.0]])
    """

    def lift(rows: np.ndarray) -> np.ndarray:
        norms = np.linalg.norm(rows, axis=1, keepdims=True)
        units = np.divide(rows, norms, out=np.zeros_like(rows), where=norms > 0)
        offset = np.full((len(rows), 1), np.sqrt(floor), dtype=rows.dtype)
        return (np.hstack([np.sqrt(1.0 - floor) * units, offset]) * norms).astype(np.float32)

    return lift(users), lift(items)
