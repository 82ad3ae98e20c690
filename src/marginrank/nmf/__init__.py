"""Masked non-negative matrix factorization: fit ``X ≈ W H`` on the observed entries only."""

from marginrank.nmf.estimator import MaskedNMF
from marginrank.nmf.solvers import ConvergenceWarning

__all__ = ["ConvergenceWarning", "MaskedNMF"]
