"""Solvers for masked NMF: only observed entries (``M == 1``) enter the objective.

Every solver is a private function ``(X, M, W, H, ...) -> (W, H, n_iter, history)`` over float64
arrays, with ``X`` holding zeros where ``M == 0`` (so ``M * X == X``), ``W`` of shape ``(n, k)`` and
``H`` of shape ``(k, m)``. ``history[t]`` is the objective after iteration ``t`` (``history[0]`` at
the start). Iteration stops when the relative improvement ``(f_prev - f) / f_prev`` falls below
``tol``, or when the objective reaches 0, or at ``max_iter`` (then :class:`ConvergenceWarning`).

Objectives (``Λ = W H``, sums over observed entries only):

* Frobenius: ``f = ½ Σ M ⊙ (X − Λ)² + ½ l2 (‖W‖² + ‖H‖²)``
* Kullback-Leibler (generalized): ``f = Σ M ⊙ (X log(X / Λ) − X + Λ)``
"""

from __future__ import annotations

import warnings
from typing import Callable

import numpy as np
from scipy.special import xlogy

Array = np.ndarray
SolverResult = tuple[Array, Array, int, list[float]]


class ConvergenceWarning(UserWarning):
    """The solver stopped at ``max_iter`` before the relative improvement fell below ``tol``."""


def frobenius_objective(X: Array, M: Array, W: Array, H: Array, l2: float = 0.0) -> float:
    """``½ Σ M ⊙ (X − W H)² + ½ l2 (‖W‖² + ‖H‖²)``."""
    residual = M * (X - W @ H)
    value = 0.5 * float(np.sum(residual * residual))
    if l2:
        value += 0.5 * l2 * float(np.sum(W * W) + np.sum(H * H))
    return value


def kl_objective(X: Array, M: Array, W: Array, H: Array) -> float:
    """Generalized KL divergence ``Σ M ⊙ (X log(X / Λ) − X + Λ)`` with ``Λ = W H`` (``0 log 0 = 0``)."""
    rate = np.maximum(W @ H, np.finfo(np.float64).tiny)
    terms = xlogy(X, X) - xlogy(X, rate) - X + rate
    return float(np.sum(M * terms))


def _row_grams(M: Array, F: Array) -> Array:
    """Per-row Gram matrices ``G[i] = Σ_j M[i, j] f_j f_jᵀ`` for factor rows ``f_j = F[j]``: ``(n, k, k)``."""
    k = F.shape[1]
    outer = (F[:, :, None] * F[:, None, :]).reshape(F.shape[0], k * k)
    return (M @ outer).reshape(M.shape[0], k, k)


def _row_problems(X: Array, M: Array, F: Array, l2: float) -> tuple[Array, Array]:
    """Normal equations of the row problems: ``G[i] = Σ_j M_ij f_j f_jᵀ + l2 I`` and ``b[i] = Σ_j X_ij f_j``."""
    G = _row_grams(M, F)
    if l2:
        G = G + l2 * np.eye(F.shape[1])
    return G, X @ F


def _hals_sweep(G: Array, B: Array, W: Array) -> Array:
    """One cyclic coordinate-descent sweep over the ``k`` components for all rows at once (masked HALS,
    Cichocki & Phan 2009): ``w_c ← max(0, w_c − (G_c · w − b_c) / G_cc)``, an exact minimisation in each
    coordinate, so the objective never increases. A coordinate with ``G_cc = 0`` does not touch the
    objective and is left as it is."""
    W = W.copy()
    for c in range(W.shape[1]):
        gradient = np.einsum("ij,ij->i", G[:, c, :], W) - B[:, c]
        curvature = G[:, c, c]
        step = np.divide(gradient, curvature, out=np.zeros_like(gradient), where=curvature > 0)
        W[:, c] = np.maximum(W[:, c] - step, 0.0)
    return W


def _solve_passive(G: Array, B: Array, passive: Array) -> Array:
    """Solve ``G[P, P] x_P = b_P`` with ``x = 0`` off the passive set ``P``, for a stack of rows at once.

    Off ``P`` the system is replaced by the identity, so one batched solve covers every row. A singular
    block (a component unseen in a row's observed entries, and ``l2 = 0``) falls back to the pseudo-inverse.
    """
    both = passive[:, :, None] & passive[:, None, :]
    eye = np.eye(G.shape[1], dtype=bool)
    system = np.where(both, G, eye)
    rhs = np.where(passive, B, 0.0)
    try:
        x = np.linalg.solve(system, rhs[:, :, None])[:, :, 0]
    except np.linalg.LinAlgError:
        x = (np.linalg.pinv(system) @ rhs[:, :, None])[:, :, 0]
    return np.where(passive, x, 0.0)


def _nnls_block_pivoting(G: Array, B: Array, W: Array, max_rounds: int = 100) -> Array:
    """Exact ``argmin_{w ≥ 0} ½ wᵀ G_i w − b_iᵀ w`` for every row by block principal pivoting
    (Kim & Park 2011, Algorithm 2 with its backup rule), vectorised over rows.

    Each round solves the passive-set systems, then swaps every infeasible variable (``x_P < 0`` or a
    negative gradient off ``P``) between the sets; when the infeasible count stops falling for three
    rounds only the highest-index one is swapped, which guarantees termination. A row that does not
    settle within ``max_rounds`` keeps its previous value, so the objective never increases.
    """
    n, k = W.shape
    passive = W > 0
    best_count = np.full(n, k + 1)
    backups = np.full(n, 3)
    result = W.copy()
    todo = np.arange(n)
    for _ in range(max_rounds):
        if todo.size == 0:
            break
        G_t, B_t, P_t = G[todo], B[todo], passive[todo]
        x = _solve_passive(G_t, B_t, P_t)
        gradient = np.einsum("ikl,il->ik", G_t, x) - B_t
        scale = np.abs(B_t).max(axis=1, keepdims=True) + np.abs(np.einsum("ikk->ik", G_t) * x).max(axis=1, keepdims=True)
        slack = 1e-12 * scale
        infeasible = (P_t & (x < 0)) | (~P_t & (gradient < -slack))
        count = infeasible.sum(axis=1)
        done = count == 0
        result[todo[done]] = x[done]
        fewer = count < best_count[todo]
        use_backup = ~fewer & (backups[todo] > 0)
        best_count[todo[fewer]] = count[fewer]
        backups[todo[fewer]] = 3
        backups[todo[use_backup]] -= 1
        swap = infeasible.copy()
        single = ~fewer & ~use_backup
        last = k - 1 - np.argmax(infeasible[:, ::-1], axis=1)
        swap[single] = False
        swap[single, last[single]] = True
        passive[todo] = P_t ^ swap
        todo = todo[~done]
    return result


def _run(
    step: Callable[[Array, Array], tuple[Array, Array]],
    objective: Callable[[Array, Array], float],
    W: Array,
    H: Array,
    max_iter: int,
    tol: float,
    warn: bool,
) -> SolverResult:
    """Iterate ``step`` until the relative improvement of ``objective`` is below ``tol``."""
    history = [objective(W, H)]
    n_iter = 0
    converged = history[0] == 0.0
    while not converged and n_iter < max_iter:
        W, H = step(W, H)
        n_iter += 1
        history.append(objective(W, H))
        previous, current = history[-2], history[-1]
        converged = current == 0.0 or (previous - current) <= tol * previous
    if warn and not converged:
        warnings.warn(
            f"masked NMF stopped at max_iter={max_iter} before the relative improvement "
            f"fell below tol={tol}; raise max_iter or tol",
            ConvergenceWarning,
            stacklevel=3,
        )
    return W, H, n_iter, history


def fit_coordinate_descent(
    X: Array,
    M: Array,
    W: Array,
    H: Array,
    *,
    update_H: bool = True,
    max_iter: int = 200,
    tol: float = 1e-4,
    l2: float = 0.0,
    exact: bool = False,
    warn: bool = True,
) -> SolverResult:
    """Frobenius loss by alternating row-wise NNLS: masked HALS (``exact=False``, one sweep per
    half-step) or ANLS (``exact=True``, inner sweeps until each row's NNLS is solved)."""
    solve = _nnls_block_pivoting if exact else _hals_sweep
    Xt, Mt = np.ascontiguousarray(X.T), np.ascontiguousarray(M.T)

    def step(W: Array, H: Array) -> tuple[Array, Array]:
        W = solve(*_row_problems(X, M, H.T, l2), W)
        if update_H:
            H = solve(*_row_problems(Xt, Mt, W, l2), H.T).T
        return W, H

    return _run(step, lambda W, H: frobenius_objective(X, M, W, H, l2), W, H, max_iter, tol, warn)


def _ratio(numerator: Array, denominator: Array) -> Array:
    """``numerator / denominator``, 1 where the denominator is 0 (such a factor entry does not
    touch the observed objective, so it is left unchanged)."""
    return np.divide(numerator, denominator, out=np.ones_like(numerator), where=denominator > 0)


def fit_multiplicative(
    X: Array,
    M: Array,
    W: Array,
    H: Array,
    *,
    loss: str,
    update_H: bool = True,
    max_iter: int = 200,
    tol: float = 1e-4,
    warn: bool = True,
) -> SolverResult:
    """Weighted multiplicative updates (Lee & Seung 2001; weights = mask, Ho 2008), monotone for both losses.

    Frobenius: ``W ← W ⊙ (X Hᵀ) / ((M ⊙ Λ) Hᵀ)``. KL: ``W ← W ⊙ ((X / Λ) Hᵀ) / (M Hᵀ)``; ``H`` symmetrically.
    Entries that start at 0 stay 0, so start from strictly positive factors.
    """
    tiny = np.finfo(np.float64).tiny

    if loss == "frobenius":

        def update(X: Array, M: Array, W: Array, H: Array) -> Array:
            return W * _ratio(X @ H.T, (M * (W @ H)) @ H.T)

        objective = lambda W, H: frobenius_objective(X, M, W, H)  # noqa: E731
    else:

        def update(X: Array, M: Array, W: Array, H: Array) -> Array:
            quotient = X / np.maximum(W @ H, tiny)
            return W * _ratio(quotient @ H.T, M @ H.T)

        objective = lambda W, H: kl_objective(X, M, W, H)  # noqa: E731

    Xt, Mt = np.ascontiguousarray(X.T), np.ascontiguousarray(M.T)

    def step(W: Array, H: Array) -> tuple[Array, Array]:
        W = update(X, M, W, H)
        if update_H:
            H = update(Xt, Mt, H.T, W.T).T
        return W, H

    return _run(step, objective, W, H, max_iter, tol, warn)
