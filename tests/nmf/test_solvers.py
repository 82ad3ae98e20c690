import warnings

import numpy as np
import pytest
from scipy.optimize import nnls

from marginrank.nmf import solvers
from marginrank.nmf.init import random_init


def _arrays(X, mask):
    return np.where(mask, X, 0.0), mask.astype(float)


def _naive_frobenius(X, mask, W, H):
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            if mask[i, j]:
                total += 0.5 * (X[i, j] - W[i] @ H[:, j]) ** 2
    return total


def _naive_kl(X, mask, W, H):
    total = 0.0
    for i in range(X.shape[0]):
        for j in range(X.shape[1]):
            if mask[i, j]:
                rate = W[i] @ H[:, j]
                x = X[i, j]
                total += (x * np.log(x / rate) if x > 0 else 0.0) - x + rate
    return total


def test_objectives_match_naive_loops(make_planted):
    X, mask, _, _, _ = make_planted(8, 6, 2, seed=1)
    rng = np.random.default_rng(1)
    W, H = rng.random((8, 2)), rng.random((2, 6))
    X[0, 0] = 0.0 if mask[0, 0] else X[0, 0]
    Xf, M = _arrays(X, mask)
    assert solvers.frobenius_objective(Xf, M, W, H) == pytest.approx(_naive_frobenius(X, mask, W, H), rel=1e-12)
    assert solvers.kl_objective(Xf, M, W, H) == pytest.approx(_naive_kl(X, mask, W, H), rel=1e-12)


def test_block_pivoting_matches_scipy_nnls_per_row():
    rng = np.random.default_rng(2)
    n, m, k = 30, 12, 5
    X = rng.normal(size=(n, m))  # signed targets so that many constraints are active
    M = (rng.random((n, m)) < 0.6).astype(float)
    F = rng.random((m, k))
    G, B = solvers._row_problems(X * M, M, F, 0.0)
    W = solvers._nnls_block_pivoting(G, B, np.zeros((n, k)))
    for i in range(n):
        rows = M[i] > 0
        expected, _ = nnls(F[rows], X[i, rows])
        np.testing.assert_allclose(W[i], expected, atol=1e-9)
    assert (W == 0).any() and (W > 0).any()


def _run(solver, X, M, W, H, max_iter, tol=0.0):
    if solver == "mu-kl":
        return solvers.fit_multiplicative(X, M, W, H, loss="kullback-leibler", max_iter=max_iter, tol=tol, warn=False)
    if solver == "mu":
        return solvers.fit_multiplicative(X, M, W, H, loss="frobenius", max_iter=max_iter, tol=tol, warn=False)
    exact = solver == "anls"
    return solvers.fit_coordinate_descent(X, M, W, H, max_iter=max_iter, tol=tol, exact=exact, l2=0.01, warn=False)


@pytest.mark.parametrize("solver", ["anls", "hals", "mu", "mu-kl"])
def test_objective_never_increases(solver, make_planted):
    X, mask, _, _, _ = make_planted(50, 40, 4, seed=3)
    X = X + np.where(mask, np.random.default_rng(3).random(X.shape), 0.0)  # not exactly low rank
    Xf, M = _arrays(X, mask)
    W, H = random_init(Xf, M, 4, np.random.default_rng(3))
    _, _, n_iter, history = _run(solver, Xf, M, W, H, max_iter=60)
    assert n_iter == 60 and len(history) == 61
    steps = np.diff(history)
    assert np.all(steps <= 1e-12 * np.abs(history[:-1])), steps.max()
    assert history[-1] < 0.5 * history[0]


def test_convergence_warning_at_max_iter(make_planted):
    X, mask, _, _, _ = make_planted(seed=5)
    Xf, M = _arrays(X, mask)
    W, H = random_init(Xf, M, 3, np.random.default_rng(5))
    with pytest.warns(solvers.ConvergenceWarning, match="max_iter=3"):
        solvers.fit_coordinate_descent(Xf, M, W, H, max_iter=3, tol=1e-12)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        *_, n_iter, _ = solvers.fit_coordinate_descent(Xf, M, W, H, max_iter=500, tol=1e-3, exact=True)
    assert n_iter < 500
