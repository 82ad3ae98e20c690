"""Propagation over the symmetric-normalized user-item graph, LightGCN's only operation.

``A_hat = D^-1/2 A D^-1/2`` with ``A = [[0, R], [R^T, 0]]`` over the ``n_users + n_items`` nodes,
``R`` the users x items matrix of the training pairs and ``D`` its degrees (He et al., SIGIR 2020,
eq. 7). ``A_hat`` is never dense: it is kept as CSR arrays and a product ``A_hat @ X`` is one
``embedding_bag`` row sum, about twice as fast as torch's CSR product on a CPU (54 against 101 ms
for Yelp2018's 2.47M entries x 64; ``benchmarks/train_speed.py`` times the whole step).

``A_hat`` is symmetric, so the backward of ``mean_k A_hat^k X`` is the same mean applied to the
gradient: :class:`Propagation` runs ``K`` products forward and ``K`` backward, where autograd
through ``torch.sparse.mm`` also transposes the CSR matrix and keeps every layer.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable


class NormalizedGraph:
    """``A_hat`` of the bipartite graph of ``pairs`` (users x items); nodes are users, then items.

    A node without edges (a user or item with no training pair) has an empty row: its propagated
    layers are zero.

    >>> import scipy.sparse as sp, torch
    >>> graph = NormalizedGraph(sp.csr_matrix([[1.0, 1.0], [0.0, 1.0]]))
    >>> graph(torch.eye(4))[0]                  # user 0 -> items 0 and 1 (nodes 2, 3), 1/sqrt(2 * d_i)
    tensor([0.0000, 0.0000, 0.7071, 0.5000])
    """

    def __init__(self, pairs: sp.spmatrix) -> None:
        pairs = sp.csr_matrix(pairs, dtype=np.float32)
        pairs.data[:] = 1.0  # every stored pair is an edge, once
        pairs.sum_duplicates()
        self.n_users, self.n_items = pairs.shape
        normalized = degree_normalized(pairs)
        adjacency = sp.bmat([[None, normalized], [normalized.T, None]], format="csr", dtype=np.float32)
        adjacency.sort_indices()
        self.n_nodes = adjacency.shape[0]
        self.nnz = adjacency.nnz
        self._columns = torch.from_numpy(adjacency.indices.astype(np.int64))
        self._weights = torch.from_numpy(adjacency.data)
        self._offsets = torch.from_numpy(adjacency.indptr[:-1].astype(np.int64))

    def __call__(self, nodes: Tensor) -> Tensor:
        """``A_hat @ nodes`` for ``nodes [n_nodes, d]``."""
        device = nodes.device
        if self._columns.device != device:
            self._columns, self._weights, self._offsets = (t.to(device) for t in (self._columns, self._weights, self._offsets))
        return F.embedding_bag(
            self._columns, nodes, self._offsets, mode="sum", per_sample_weights=self._weights.to(nodes.dtype)
        )

    def layer_mean(self, nodes: Tensor, layers: int) -> Tensor:
        """``(1 / (K + 1)) sum_{k=0..K} A_hat^k nodes`` with ``K = layers``."""
        total, current = nodes.clone(), nodes
        for _ in range(layers):
            current = self(current)
            total += current
        return total / (layers + 1)


class Propagation(torch.autograd.Function):
    """``mean_{k=0..K} A_hat^k E`` with the gradient ``mean_{k=0..K} A_hat^k G`` (``A_hat`` symmetric)."""

    @staticmethod
    def forward(ctx, nodes: Tensor, graph: NormalizedGraph, layers: int) -> Tensor:  # type: ignore[override]
        ctx.graph, ctx.layers = graph, layers
        return graph.layer_mean(nodes, layers)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad: Tensor):  # type: ignore[override]
        return ctx.graph.layer_mean(grad.contiguous(), ctx.layers), None, None


def degree_normalized(pairs: sp.spmatrix) -> sp.csr_matrix:
    """``D_u^-1/2 R D_i^-1/2`` (float32) of the pattern ``R`` of ``pairs`` (users x items): the user-item
    block of ``A_hat``; a user or item without pairs keeps an empty row or column.

    >>> degree_normalized(sp.csr_matrix([[1.0, 1.0], [0.0, 3.0]])).toarray().astype(float).round(4).tolist()
    [[0.7071, 0.5], [0.0, 0.7071]]
    """
    binary = (sp.csr_matrix(pairs) != 0).astype(np.float32)
    user_degree = np.maximum(np.asarray(binary.sum(axis=1)).ravel(), 1.0)
    item_degree = np.maximum(np.asarray(binary.sum(axis=0)).ravel(), 1.0)
    return sp.csr_matrix(sp.diags(user_degree**-0.5) @ binary @ sp.diags(item_degree**-0.5), dtype=np.float32)
