"""`MaskedNMF`: non-negative matrix factorization of a partially observed matrix."""

from __future__ import annotations

import warnings
from numbers import Integral, Real
from typing import Any

import numpy as np

from marginrank.errors import MarginRankError, SettingError
from marginrank.nmf.init import incremental_init, nndsvd_init, random_init
from marginrank.nmf.solvers import (
    kl_objective,
    ConvergenceWarning,
    SolverResult,
    fit_coordinate_descent,
    fit_multiplicative,
)

Array = np.ndarray

# Declarative parameter table, checked in ``fit``: name -> allowed set, or (type, lower bound, inclusive).
_CONSTRAINTS: dict[str, Any] = {
    "n_components": (Integral, 1, True),
    "loss": {"frobenius", "kullback-leibler"},
    "solver": {"auto", "anls", "hals", "mu"},
    "init": {"incremental", "nndsvd", "random"},
    "max_iter": (Integral, 1, True),
    "tol": (Real, 0.0, True),
    "l2": (Real, 0.0, True),
    "n_restarts": (Integral, 1, True),
}
_FROBENIUS_ONLY = {"anls", "hals"}


def _check_constraints(params: dict[str, Any]) -> None:
    for name, rule in _CONSTRAINTS.items():
        value = params[name]
        if isinstance(rule, set):
            if value not in rule:
                raise SettingError(name, f"{name}={value!r} is not one of {sorted(rule)}")
            continue
        kind, low, inclusive = rule
        well_typed = isinstance(value, kind) and not isinstance(value, bool)
        if not well_typed or not (value >= low if inclusive else value > low) or not np.isfinite(value):
            noun = "an integer" if kind is Integral else "a finite number"
            raise SettingError(name, f"{name}={value!r} must be {noun} {'>=' if inclusive else '>'} {low}")
    seed = params["random_state"]
    seed_ok = seed is None or isinstance(seed, np.random.Generator) or (
        isinstance(seed, Integral) and not isinstance(seed, bool) and seed >= 0
    )
    if not seed_ok:
        raise SettingError("random_state", f"random_state={seed!r} must be None, an integer >= 0 or a numpy Generator")


def _check_data(X: Any, mask: Any, n_columns: int | None = None) -> tuple[Array, Array]:
    """Validate ``X`` (NaN = missing) and ``mask`` (True = observed); return float64 ``X`` with 0 where
    missing and the float 0/1 mask."""
    try:
        X = np.array(X, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise MarginRankError(f"X must be a numeric matrix: {error}") from None
    if X.ndim != 2 or X.size == 0:
        raise MarginRankError(f"X must be a non-empty 2-D matrix, got shape {X.shape}")
    if n_columns is not None and X.shape[1] != n_columns:
        raise MarginRankError(f"X has {X.shape[1]} columns but the model was fitted on {n_columns}")
    if mask is None:
        observed = ~np.isnan(X)
    else:
        observed = np.asarray(mask)
        if observed.shape != X.shape:
            raise MarginRankError(f"mask has shape {observed.shape} but X has shape {X.shape}")
        if observed.dtype != bool:
            raise MarginRankError(f"mask must be boolean (True = observed), got dtype {observed.dtype}")
        if np.isnan(X[observed]).any():
            raise MarginRankError("X has NaN at entries the mask marks as observed")
    if np.isinf(X[observed]).any():
        raise MarginRankError("X has infinite observed values")
    if (X[observed] < 0).any():
        raise MarginRankError(f"X has negative observed values (min {X[observed].min():g}); NMF needs X >= 0")
    with np.errstate(over="ignore"):
        if not np.isfinite(np.sum(np.square(X[observed]))):
            raise MarginRankError(
                f"X's values (up to {X[observed].max():g}) overflow float64 once squared; divide X by a constant first"
            )
    empty_rows = np.flatnonzero(~observed.any(axis=1))
    if empty_rows.size:
        raise MarginRankError(f"{empty_rows.size} row(s) have no observed entry, e.g. row {empty_rows[0]}")
    if n_columns is None:
        empty_cols = np.flatnonzero(~observed.any(axis=0))
        if empty_cols.size:
            raise MarginRankError(f"{empty_cols.size} column(s) have no observed entry, e.g. column {empty_cols[0]}")
    return np.where(observed, X, 0.0), observed.astype(np.float64)


def _check_rank(k: int, M: Array) -> None:
    """Refuse a rank above the smaller side of the matrix; warn when the observed entries are fewer
    than the ``k (n + m − k)`` degrees of freedom of a rank-``k`` matrix (the fill is then not determined)."""
    n, m = M.shape
    if k > min(n, m):
        raise SettingError(
            "n_components",
            f"rank n_components={k} is more than min(n_rows, n_columns) = {min(n, m)} of the {n} x {m} matrix; "
            f"choose n_components <= {min(n, m)}",
        )
    freedom, observed = k * (n + m - k), int(M.sum())
    if observed < freedom:
        warnings.warn(
            f"rank n_components={k} has {freedom} degrees of freedom but only {observed} observed entries: the missing "
            "entries are not determined by the data; choose a smaller n_components",
            UserWarning,
            stacklevel=3,
        )


class MaskedNMF:
    """Non-negative matrix factorization ``X ≈ W H`` fitted on the observed entries only.

    Objective, over observed entries ``Ω`` (NaN in ``X`` or False in ``mask`` are missing and never enter it):

    * ``loss="frobenius"``: ``½ Σ_Ω (X − W H)² + ½ l2 (‖W‖²_F + ‖H‖²_F)``
    * ``loss="kullback-leibler"``: ``Σ_Ω X log(X / W H) − X + W H`` (``l2`` is not used)

    Parameters
    ----------
    n_components : int
        Rank ``k``, at most ``min(n_rows, n_columns)``. A warning says when the observed entries are fewer
        than the ``k (n_rows + n_columns − k)`` degrees of freedom of a rank-``k`` matrix.
    loss : {"frobenius", "kullback-leibler"}, default="frobenius"
    solver : {"auto", "anls", "hals", "mu"}, default="auto"
        ``"anls"``: alternating exact non-negative least squares per row of ``W`` and column of ``H``
        (block principal pivoting); ``"hals"``: one masked HALS coordinate sweep per half-step;
        ``"mu"``: multiplicative updates. ``"auto"`` is ``"anls"`` for Frobenius, ``"mu"`` for KL
        (the only solver for KL).
    init : {"incremental", "nndsvd", "random"}, default="incremental"
        Start of the first restart: rank continuation (one component at a time), NNDSVD of the matrix
        filled with row × column means, or scaled random. Later restarts start at random.
    max_iter : int, default=500
    tol : float, default=1e-5
        Stop when ``(f_prev − f) / f_prev < tol``.
    l2 : float, default=0.0
        Ridge penalty on both factors (Frobenius solvers only).
    n_restarts : int, default=1
        Fits from different starts; the one with the lowest objective is kept.
    random_state : int | numpy.random.Generator | None, default=None

    Attributes
    ----------
    components_ : ndarray of shape (k, n_columns)
        ``H``.
    reconstruction_err_ : float
        Frobenius: ``sqrt(Σ_Ω (X − W H)²)``; KL: the generalized KL divergence above (without ``l2``).
    n_iter_ : int
        Iterations of the kept restart.
    history_ : list of float
        The objective at the start and after every iteration of the kept restart.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.random((30, 2)) @ rng.random((2, 20))
    >>> X[rng.random(X.shape) < 0.3] = np.nan
    >>> model = MaskedNMF(2, random_state=0)
    >>> W = model.fit_transform(X)
    >>> bool(model.reconstruction_err_ < 1e-6)
    True
    """

    def __init__(
        self,
        n_components: int,
        *,
        loss: str = "frobenius",
        solver: str = "auto",
        init: str = "incremental",
        max_iter: int = 500,
        tol: float = 1e-5,
        l2: float = 0.0,
        n_restarts: int = 1,
        random_state: int | np.random.Generator | None = None,
    ) -> None:
        self.n_components = n_components
        self.loss = loss
        self.solver = solver
        self.init = init
        self.max_iter = max_iter
        self.tol = tol
        self.l2 = l2
        self.n_restarts = n_restarts
        self.random_state = random_state

    def _check_params(self) -> None:
        _check_constraints(vars(self))
        solver = self.solver
        if solver == "auto":
            solver = "anls" if self.loss == "frobenius" else "mu"
        if self.loss == "kullback-leibler" and solver in _FROBENIUS_ONLY:
            raise SettingError("solver", f"solver={solver!r} supports only loss='frobenius'; use solver='mu' for KL")
        if self.loss == "kullback-leibler" and self.l2:
            raise SettingError("l2", "l2 is supported only with loss='frobenius'")
        self._solver = solver

    def _solve(self, X: Array, M: Array, W: Array, H: Array, *, update_H: bool) -> SolverResult:
        options = {"update_H": update_H, "max_iter": self.max_iter, "tol": self.tol}
        if self._solver == "mu":
            return fit_multiplicative(X, M, W, H, loss=self.loss, **options)
        return fit_coordinate_descent(X, M, W, H, l2=self.l2, exact=self._solver == "anls", **options)

    def _start(self, X: Array, M: Array, restart: int, rng: np.random.Generator) -> tuple[Array, Array]:
        k = self.n_components
        if restart > 0 or self.init == "random":
            return random_init(X, M, k, rng)
        if self.init == "nndsvd":
            return nndsvd_init(X, M, k, fill_zeros=self._solver == "mu")
        W, H = incremental_init(X, M, k, l2=self.l2)
        if self._solver == "mu":  # multiplicative updates never leave an exact zero
            floor = 1e-3 * np.sqrt(X.sum() / M.sum() / k)
            W, H = np.maximum(W, floor), np.maximum(H, floor)
        return W, H

    def fit(self, X: Any, mask: Any = None) -> MaskedNMF:
        """Fit ``W`` and ``H`` on the observed entries of ``X``; returns ``self``."""
        self.fit_transform(X, mask)
        return self

    def fit_transform(self, X: Any, mask: Any = None) -> Array:
        """Fit the model and return ``W`` of shape ``(n_rows, k)``."""
        self._check_params()
        X, M = _check_data(X, mask)
        _check_rank(self.n_components, M)
        rng = np.random.default_rng(self.random_state)
        best: SolverResult | None = None
        caught: list[warnings.WarningMessage] = []
        for restart in range(self.n_restarts):
            W, H = self._start(X, M, restart, rng)
            with warnings.catch_warnings(record=True) as record:
                warnings.simplefilter("always", ConvergenceWarning)
                result = self._solve(X, M, W, H, update_H=True)
            if best is None or result[3][-1] < best[3][-1]:
                best, caught = result, record
        assert best is not None
        for message in caught:
            warnings.warn(message.message, message.category, stacklevel=2)
        W, H, self.n_iter_, self.history_ = best
        self.components_ = H
        self.n_components_ = H.shape[0]
        self.reconstruction_err_ = self._error(X, M, W, H)
        return W

    def _error(self, X: Array, M: Array, W: Array, H: Array) -> float:
        if self.loss == "frobenius":
            residual = M * (X - W @ H)
            return float(np.sqrt(np.sum(residual * residual)))
        return kl_objective(X, M, W, H)

    def transform(self, X: Any, mask: Any = None) -> Array:
        """``W`` for new rows with ``H = components_`` fixed (the same solver, ``H`` not updated)."""
        if not hasattr(self, "components_"):
            raise MarginRankError("this MaskedNMF is not fitted yet; call fit first")
        X, M = _check_data(X, mask, n_columns=self.components_.shape[1])
        H = self.components_
        if self._solver == "mu":  # multiplicative updates need a strictly positive start
            W = random_init(X, M, self.n_components_, np.random.default_rng(0))[0]
        else:
            W = np.zeros((X.shape[0], self.n_components_))
        W, _, _, _ = self._solve(X, M, W, H, update_H=False)
        return W

    def inverse_transform(self, W: Any) -> Array:
        """The reconstruction ``W H`` at every entry, observed ones included."""
        if not hasattr(self, "components_"):
            raise MarginRankError("this MaskedNMF is not fitted yet; call fit first")
        W = np.asarray(W, dtype=np.float64)
        if W.ndim != 2 or W.shape[1] != self.components_.shape[0]:
            raise MarginRankError(f"W must have shape (n, {self.components_.shape[0]}), got {W.shape}")
        return W @ self.components_
