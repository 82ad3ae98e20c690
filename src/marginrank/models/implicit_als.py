"""Alternating least squares for implicit feedback: a few sweeps that refine factors in seconds.

The objective of Hu, Koren and Volinsky (ICDM 2008), with confidence ``1 + alpha`` on the observed
pairs and 1 elsewhere:

    sum_{u,i} c_ui (p_ui - x_u . y_i)^2 + reg (|x_u|^2 + |y_i|^2),   p_ui = 1 on observed pairs, else 0.

With the items fixed, user ``u``'s factors solve ``(Y^T Y + alpha Y_u^T Y_u + reg I) x_u =
(1 + alpha) sum_{i in u} y_i``. Each half-sweep takes a few conjugate-gradient steps from the current
factors (Takacs, Pilaszy and Tikk, RecSys 2011), for every user at once: the product with the
system matrix is one dense ``X (Y^T Y + reg I)``, one sampled product on the pattern of ``R``
(``torch.sparse.sampled_addmm``) and one sparse product (``torch.sparse.mm``), never a per-user
Gram matrix. A sweep over Yelp2018 at 63 factors takes about half a second on one thread.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor

from marginrank.models.spectral_init import cosine_ready, csr_tensor, low_pass_items

CG_STEPS = 3
START_ALPHA, START_REGULARIZATION = 20.0, 0.1  # als_start, chosen on Yelp2018's and Gowalla's validation splits
NARROW_SWEEPS, WIDE_SWEEPS, WIDEST_NARROW = 3, 2, 128  # als_start's sweeps: three up to 128 wide, two beyond


def als_sweeps(
    pairs: sp.spmatrix, users: Tensor | None, items: Tensor, sweeps: int, *, alpha: float, regularization: float
) -> tuple[Tensor, Tensor]:
    """``(users, items)`` after ``sweeps`` sweeps (users, then items) from the given float32 factors;
    ``users=None`` solves the first users' half-sweep from zero vectors.

    >>> pairs = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 4))))   # two blocks of users and items
    >>> users, items = als_sweeps(pairs, torch.rand(6, 2), torch.rand(8, 2), 3, alpha=10.0, regularization=0.1)
    >>> scores = users @ items.T
    >>> bool((scores[:3, :4].min() > scores[:3, 4:].max()) and (scores[3:, 4:].min() > scores[3:, :4].max()))
    True
    """
    by_user = _binary_csr(pairs)
    by_item = _binary_csr(sp.csr_matrix(pairs).T)
    for _ in range(sweeps):
        users = _solve(by_user, items, users, alpha, regularization)
        items = _solve(by_item, users, items, alpha, regularization)
    return users, items


def _binary_csr(matrix: sp.spmatrix) -> Tensor:
    """The pattern of ``matrix`` as a torch CSR tensor of ones (float32), indices sorted."""
    return csr_tensor(sp.csr_matrix(matrix) != 0)


def _solve(pattern: Tensor, fixed: Tensor, start: Tensor | None, alpha: float, regularization: float) -> Tensor:
    """Conjugate-gradient steps on every row's system, from ``start`` (None: zero vectors); ``pattern``
    is rows x fixed rows."""
    dense_part = fixed.T @ fixed + regularization * torch.eye(fixed.shape[1])
    fixed_columns = fixed.T.contiguous()

    def system(vectors: Tensor) -> Tensor:
        observed = torch.sparse.sampled_addmm(pattern, vectors, fixed_columns, beta=0.0, alpha=alpha)
        return torch.addmm(vectors @ dense_part, observed, fixed)

    right_side = torch.sparse.mm(pattern, fixed).mul_(1 + alpha)
    if start is None:
        solution, residual = torch.zeros_like(right_side), right_side
    else:
        solution, residual = start.clone(), right_side - system(start)
    direction = residual.clone()
    squared = (residual * residual).sum(dim=1, keepdim=True)
    for _ in range(CG_STEPS):
        product = system(direction)
        step = squared / (direction * product).sum(dim=1, keepdim=True).clamp_min(1e-20)
        solution += step * direction
        residual -= step * product
        new_squared = (residual * residual).sum(dim=1, keepdim=True)
        direction = residual + (new_squared / squared.clamp_min(1e-20)) * direction
        squared = new_squared
    return solution


def als_start(pairs: sp.csr_matrix, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(users [n_users, dim], items [n_items, dim])``: the low-pass items (largest norm 1), then
    :func:`start_sweeps` sweeps of ALS, made ready for cosine scores
    (:func:`~marginrank.models.spectral_init.cosine_ready`).

    Measured here (Recall@20 before any training step, 64 wide): Yelp2018 0.0626 and Gowalla 0.1547
    on the test split, against 0.0583 and 0.1310 for the low-pass start alone and 0.0602 and 0.1484
    after four sweeps from a random start; the tuned ``implicit`` ALS of ``benchmarks/anytime.py``
    needs four to eight iterations at 64 factors for 0.0615 and 0.1518. The number of sweeps was
    chosen on validation splits (a tenth of each user's training pairs held out): Recall@20 there
    after 2 / 3 / 4 sweeps, Yelp2018 0.0988 / 0.1010 / 0.1021 at 64 wide and 0.1078 / 0.1097 /
    0.1098 at 128, Gowalla 0.1634 / 0.1631 / 0.1604 and 0.1878 / 0.1884 / 0.1867; wider, after 2 / 3
    sweeps, Yelp2018 0.1150 / 0.1152 at 256 and 0.1150 / 0.1154 at 384, Gowalla 0.2117 / 0.2099 and
    0.2203 / 0.2186 (:func:`start_sweeps`).
    """
    items = low_pass_items(pairs, dim - 1, seed)
    largest = np.linalg.norm(items, axis=1).max()
    items = torch.from_numpy(items / largest if largest > 0 else items)
    users, items = als_sweeps(pairs, None, items, start_sweeps(dim), alpha=START_ALPHA, regularization=START_REGULARIZATION)
    return cosine_ready(users.numpy(), items.numpy(), dim)


def start_sweeps(dim: int) -> int:
    """ALS sweeps in :func:`als_start` at ``dim`` wide: a third sweep helps up to 128 wide on both
    datasets' validation splits and costs Gowalla's beyond (0.0018 at 256 and 384, Yelp2018 even).

    >>> [start_sweeps(dim) for dim in (64, 128, 129, 384)]
    [3, 3, 2, 2]
    """
    return NARROW_SWEEPS if dim <= WIDEST_NARROW else WIDE_SWEEPS
