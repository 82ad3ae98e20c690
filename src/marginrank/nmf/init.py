"""Starting factors for masked NMF."""

from __future__ import annotations

import numpy as np

Array = np.ndarray


def fill_missing(X: Array, M: Array) -> Array:
    """Fill unobserved entries with the rank-one guess ``r_i c_j / g`` (row mean × column mean / overall mean)."""
    counts_rows = M.sum(axis=1)
    counts_cols = M.sum(axis=0)
    overall = X.sum() / M.sum()
    if overall <= 0:
        return X.copy()
    row_means = X.sum(axis=1) / counts_rows
    col_means = X.sum(axis=0) / counts_cols
    guess = np.outer(row_means, col_means) / overall
    return np.where(M > 0, X, guess)


def random_init(X: Array, M: Array, n_components: int, rng: np.random.Generator) -> tuple[Array, Array]:
    """Scaled random start: ``|N(0, 1)| · sqrt(mean(X_obs) / k)``, so that ``W H`` has the data's mean."""
    scale = np.sqrt(max(X.sum() / M.sum(), 0.0) / n_components) or 1.0
    n, m = X.shape
    W = np.abs(rng.standard_normal((n, n_components))) * scale
    H = np.abs(rng.standard_normal((n_components, m))) * scale
    return W, H


def nndsvd_init(X: Array, M: Array, n_components: int, *, fill_zeros: bool = True) -> tuple[Array, Array]:
    """NNDSVD (Boutsidis & Gallopoulos 2008) of the filled matrix (:func:`fill_missing`).

    For each singular triple ``(σ, u, v)`` keep the positive or negative parts of ``u`` and ``v``,
    whichever pair carries more norm. With ``fill_zeros`` (the "NNDSVDa" variant) exact zeros are
    replaced by the data mean, so multiplicative updates are not locked at 0.
    """
    filled = fill_missing(X, M)
    U, S, Vt = np.linalg.svd(filled, full_matrices=False)
    n, m = X.shape
    W = np.zeros((n, n_components))
    H = np.zeros((n_components, m))
    rank = min(n_components, S.size)
    W[:, 0] = np.sqrt(S[0]) * np.abs(U[:, 0])
    H[0, :] = np.sqrt(S[0]) * np.abs(Vt[0, :])
    for c in range(1, rank):
        u, v = U[:, c], Vt[c, :]
        u_pos, u_neg = np.maximum(u, 0), np.maximum(-u, 0)
        v_pos, v_neg = np.maximum(v, 0), np.maximum(-v, 0)
        pos_norm = np.linalg.norm(u_pos) * np.linalg.norm(v_pos)
        neg_norm = np.linalg.norm(u_neg) * np.linalg.norm(v_neg)
        if pos_norm >= neg_norm:
            u_keep, v_keep, norm = u_pos, v_pos, pos_norm
        else:
            u_keep, v_keep, norm = u_neg, v_neg, neg_norm
        if norm == 0:
            continue
        factor = np.sqrt(S[c] * norm)
        W[:, c] = factor * u_keep / np.linalg.norm(u_keep)
        H[c, :] = factor * v_keep / np.linalg.norm(v_keep)
    if fill_zeros:
        mean = filled.mean()
        W[W == 0] = mean
        H[H == 0] = mean
    return W, H


def _leading_pair(R: Array, n_power: int = 30) -> tuple[Array, Array]:
    """Leading singular pair of a non-negative matrix by power iteration, scaled as ``√σ u``, ``√σ v``
    (non-negative by Perron-Frobenius)."""
    v = np.ones(R.shape[1]) / np.sqrt(R.shape[1])
    u = R @ v
    for _ in range(n_power):
        u = R @ v
        norm_u = np.linalg.norm(u)
        if norm_u == 0:
            return np.zeros(R.shape[0]), np.zeros(R.shape[1])
        u /= norm_u
        v = R.T @ u
        v /= np.linalg.norm(v)
    sigma = float(u @ R @ v)
    return np.sqrt(sigma) * u, np.sqrt(sigma) * v


def incremental_init(
    X: Array, M: Array, n_components: int, *, stage_iter: int = 10, l2: float = 0.0
) -> tuple[Array, Array]:
    """Rank continuation: add one component at a time.

    Component ``c`` starts from the leading pair of the positive part of the observed residual
    ``max(M ⊙ (X − W H), 0)``, then all ``c`` components are refined by ``stage_iter`` masked ANLS
    iterations. Strong components are settled before weak ones are asked to explain what is left, which
    avoids the poor local minima a one-shot start falls into when factor scales span orders of magnitude.
    """
    from marginrank.nmf.solvers import fit_coordinate_descent

    n, m = X.shape
    W, H = np.zeros((n, 0)), np.zeros((0, m))
    for _ in range(n_components):
        residual = np.maximum(M * (X - W @ H), 0.0)
        u, v = _leading_pair(residual)
        W, H = np.column_stack([W, u]), np.vstack([H, v])
        W, H, _, _ = fit_coordinate_descent(X, M, W, H, max_iter=stage_iter, tol=1e-4, l2=l2, exact=True, warn=False)
    return W, H
