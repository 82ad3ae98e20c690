"""Embeddings that start where a closed-form recommender ends: the top singular vectors of the
degree-normalized interaction matrix.

With ``R~ = D_u^-1/2 R D_i^-1/2`` and ``V`` its top ``dim`` right singular vectors (a randomized
truncated SVD, ``torch.svd_lowrank``), item ``i`` starts at ``V_i`` and user ``u`` at
``sum_{i in R_u} D_i^-1/2 V_i``: their dot products are the ideal low-pass graph filter of GF-CF
(Shen et al., "How Powerful is Graph Convolution for Recommendation?", CIKM 2021), a ranking that
needs no training. Measured here as the start of the Gowalla BSL-800 MF row (cosine, dim 64):
Recall@20 0.1537 after one epoch against 0.1084 from a random start.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch

POWER_ITERATIONS = 2


def low_pass_factors(pairs: sp.csr_matrix, dim: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(users [n_users, dim], items [n_items, dim])`` float32 factors of ``pairs`` (users x items).

    >>> pairs = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 4))))   # two blocks of users and items
    >>> users, items = low_pass_factors(pairs, dim=2)
    >>> scores = users @ items.T
    >>> bool((scores[:3, :4].min() > scores[:3, 4:].max()) and (scores[3:, 4:].min() > scores[3:, :4].max()))
    True
    """
    binary = (sp.csr_matrix(pairs) != 0).astype(np.float32)
    user_degree = np.maximum(np.asarray(binary.sum(axis=1)).ravel(), 1.0)
    item_degree = np.maximum(np.asarray(binary.sum(axis=0)).ravel(), 1.0)
    normalized = (sp.diags(user_degree ** -0.5) @ binary @ sp.diags(item_degree ** -0.5)).tocoo()
    matrix = torch.sparse_coo_tensor(
        np.vstack([normalized.row, normalized.col]), normalized.data, normalized.shape, check_invariants=True
    )
    rank = min(dim, *binary.shape)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        _, _, right = torch.svd_lowrank(matrix, q=rank, niter=POWER_ITERATIONS)
    items = np.zeros((binary.shape[1], dim), dtype=np.float32)
    items[:, :rank] = right.numpy()
    users = np.asarray(binary @ (items * item_degree[:, None] ** -0.5), dtype=np.float32)
    return users, items
