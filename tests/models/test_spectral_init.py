"""The randomized truncated SVD of the low-pass start against NumPy's exact SVD."""

import numpy as np
import scipy.sparse as sp

from marginrank.models.spectral_init import low_pass_items, right_singular_vectors


def planted(rank: int, gap: float, shape=(120, 200), seed: int = 0) -> np.ndarray:
    """A matrix with ``rank`` singular values in 1..2 and every other one below ``gap``."""
    rng = np.random.default_rng(seed)
    left = np.linalg.qr(rng.normal(size=(shape[0], shape[0])))[0]
    right = np.linalg.qr(rng.normal(size=(shape[1], shape[1])))[0]
    values = np.concatenate([np.linspace(2.0, 1.0, rank), gap * rng.random(shape[0] - rank)])
    return (left * values) @ right[:, : shape[0]].T


def test_the_vectors_are_the_exact_top_right_singular_vectors_where_the_spectrum_has_a_gap():
    matrix = planted(rank=6, gap=0.05)
    got = right_singular_vectors(sp.csr_matrix(matrix), 6, power_iterations=2)
    exact = np.linalg.svd(matrix)[2][:6].T
    assert got.shape == (200, 6) and got.dtype == np.float32
    np.testing.assert_allclose(got.T @ got, np.eye(6), atol=1e-5)
    # the cosines of the principal angles between the two subspaces
    np.testing.assert_allclose(np.linalg.svd(exact.T @ got, compute_uv=False), 1.0, atol=1e-4)
    # column by column, up to sign, in the order of the singular values
    np.testing.assert_allclose(np.abs((exact * got).sum(axis=0)), 1.0, atol=1e-3)


def test_power_iterations_bring_the_vectors_closer_without_a_clear_gap():
    matrix = planted(rank=6, gap=0.9, seed=1)
    exact = np.linalg.svd(matrix)[2][:6].T

    def captured(power_iterations: int) -> float:
        vectors = right_singular_vectors(sp.csr_matrix(matrix), 6, power_iterations)
        return float(np.linalg.svd(exact.T @ vectors, compute_uv=False).min())

    assert captured(0) < captured(1) < captured(2)


def test_the_same_seed_gives_the_same_vectors_and_another_seed_the_same_subspace():
    matrix = sp.csr_matrix(planted(rank=4, gap=0.01))
    first, again = (right_singular_vectors(matrix, 4, 2, seed=3) for _ in range(2))
    other = right_singular_vectors(matrix, 4, 2, seed=4)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_allclose(np.linalg.svd(first.T @ other, compute_uv=False), 1.0, atol=1e-4)


def test_a_rank_beyond_the_matrix_leaves_zero_columns():
    pairs = sp.csr_matrix(np.array([[1.0, 0.0, 1.0, 0.0], [0.0, 1.0, 1.0, 0.0], [1.0, 1.0, 0.0, 1.0]]))
    items = low_pass_items(pairs, rank=5)
    assert items.shape == (4, 5)
    np.testing.assert_allclose(items[:, :3].T @ items[:, :3], np.eye(3), atol=1e-5)
    assert not items[:, 3:].any()
