"""Scores of user vectors against positive items and pools of negative items, with a backward pass
that costs what the loss's gradient touches.

A margin loss (CCL, MMCL, hinge) gives a gradient only to the negatives above its margin: after the
first epoch that is a small fraction of the ``[B, N]`` scores. Plain autograd still runs two dense
products and a dense normalization backward over every pooled row. :class:`PooledItemScores` keeps
the forward (one product) and, when the score gradient is sparse, back-propagates through the
nonzero entries alone; a dense gradient (softmax, BPR) takes the dense products. Both give the same
gradient up to float rounding.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.autograd.function import once_differentiable

NORM_EPS = 1e-12  # as F.normalize: x / max(||x||, eps)
SPARSE_BELOW = 0.1  # fraction of nonzero score gradients under which the sparse backward is used


def normalized_rows(rows: Tensor, normalize: bool) -> tuple[Tensor, Tensor]:
    """``(x / max(||x||, eps), 1 / max(||x||, eps))`` per row, or ``(x, ones)`` without normalization."""
    if not normalize:
        return rows, torch.ones(rows.shape[:-1] + (1,), dtype=rows.dtype, device=rows.device)
    inverse = torch.linalg.vector_norm(rows, dim=-1, keepdim=True).clamp_min(NORM_EPS).reciprocal()
    return rows * inverse, inverse


def normalize_backward(grad: Tensor, unit: Tensor, inverse: Tensor, normalize: bool) -> Tensor:
    """Gradient w.r.t. ``x`` from the gradient w.r.t. ``x_hat = x / ||x||``: ``(g - x_hat <x_hat, g>) / ||x||``.

    A row shorter than ``eps`` was divided by the constant ``eps``, so its gradient is ``g / eps``.
    """
    if not normalize:
        return grad
    projected = grad - unit * (unit * grad).sum(dim=-1, keepdim=True)
    clamped = inverse >= 1 / NORM_EPS
    return torch.where(clamped, grad, projected) * inverse


def rows_per_pool(batch: int, pools: Tensor) -> int:
    """Consecutive batch rows served by one pool: all ``B`` for a shared ``[N]``, ``ceil(B / G)`` for ``[G, N]``."""
    return batch if pools.dim() == 1 else -(-batch // pools.shape[0])


def sparse_products(rows: Tensor, slots: Tensor, values: Tensor, unit: Tensor, user: Tensor) -> tuple[Tensor, Tensor]:
    """``(G @ unit, G.T @ user)`` for the sparse ``[B, S]`` matrix ``G`` with ``G[rows, slots] = values``.

    ``rows`` must be sorted (as ``torch.nonzero`` returns them). Each product is one CSR x dense
    multiplication, so an active entry costs one ``d``-wide multiply-add, and entries that share a
    pooled row are summed before that row's normalization backward.
    """
    batch, pooled = user.shape[0], unit.shape[0]

    def csr(sorted_rows: Tensor, columns: Tensor, entries: Tensor, shape: tuple[int, int]) -> Tensor:
        offsets = torch.zeros(shape[0] + 1, dtype=torch.int64, device=entries.device)
        offsets[1:] = torch.bincount(sorted_rows, minlength=shape[0]).cumsum(0)
        with warnings.catch_warnings():  # "sparse CSR support is in beta": the products used here are stable
            warnings.simplefilter("ignore", UserWarning)
            return torch.sparse_csr_tensor(offsets, columns, entries, shape, check_invariants=False)

    by_slot = torch.argsort(slots, stable=True)
    to_user = csr(rows, slots, values, (batch, pooled)) @ unit
    to_unit = csr(slots[by_slot], rows[by_slot], values[by_slot], (pooled, batch)) @ user
    return to_user, to_unit


def active_entries(grad: Tensor) -> tuple[Tensor, Tensor, Tensor | None]:
    """``(rows, cols, values)`` of the nonzero entries of a dense or sparse COO ``[B, N]`` gradient,
    row-major; ``values`` is None when they are too many (over ``SPARSE_BELOW``) for the sparse path."""
    if grad.is_sparse:
        grad = grad if grad.is_coalesced() else grad.coalesce()
        rows, cols = grad.indices()
        return rows, cols, grad.values() if rows.numel() <= SPARSE_BELOW * grad.shape.numel() else None
    rows, cols = torch.nonzero(grad, as_tuple=True)
    return rows, cols, grad[rows, cols] if rows.numel() <= SPARSE_BELOW * grad.numel() else None


class PooledItemScores(torch.autograd.Function):
    """``pos[b] = <u_b, f(E[p_b])>`` and ``neg[b, j] = <u_b, f(E[pool(b)_j])>``, ``f`` = L2 normalization or identity.

    ``pools`` is ``[N]`` (one pool for the batch: one ``[B, d] x [d, N]`` product), ``[G, N]`` with
    ``G < B`` (one pool per ``ceil(B / G)`` consecutive rows: a batched product) or ``[B, N]``
    (per-example negatives). The item table ``E`` is an input, so its gradient is formed directly
    (rows touched only; a sparse COO tensor with ``sparse=True``, for row-wise optimizers) instead
    of through a gathered ``[G, N, d]`` copy.

    The backward takes the score gradient dense or as a sparse COO ``[B, N]`` tensor (as
    :func:`marginrank.losses.base.active_mean` hands it over), so a margin loss's few active entries
    reach it without a dense ``[B, N]`` fill and scan.
    """

    takes_sparse_score_grad = True

    @staticmethod
    def forward(  # type: ignore[override]
        ctx, user: Tensor, table: Tensor, positives: Tensor, pools: Tensor, normalize: bool, sparse: bool = False
    ):
        batch, dim = user.shape
        if normalize and pools.numel() + batch >= table.shape[0] // 2:  # normalize the table once, then gather
            table_unit, table_inverse = normalized_rows(table, normalize)
            pos_unit, pos_inverse = table_unit.index_select(0, positives), table_inverse.index_select(0, positives)
            flat = pools.reshape(-1)
            pool_unit, pool_inverse = table_unit.index_select(0, flat), table_inverse.index_select(0, flat)
        else:
            pos_unit, pos_inverse = normalized_rows(table.index_select(0, positives), normalize)
            pool_unit, pool_inverse = normalized_rows(table.index_select(0, pools.reshape(-1)), normalize)
        pool_unit = pool_unit.view(*pools.shape, dim)
        pos_scores = (user * pos_unit).sum(dim=-1)
        if pools.dim() == 1:
            neg_scores = user @ pool_unit.T
        else:
            groups, size = pools.shape[0], rows_per_pool(batch, pools)
            padded = F.pad(user, (0, 0, 0, size * groups - batch)).view(groups, size, dim)
            neg_scores = torch.bmm(padded, pool_unit.transpose(1, 2)).reshape(-1, pools.shape[-1])[:batch]
        ctx.save_for_backward(user, positives, pools, pos_unit, pos_inverse, pool_unit, pool_inverse)
        ctx.table_shape, ctx.normalize, ctx.sparse = table.shape, normalize, sparse
        return pos_scores, neg_scores

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_pos: Tensor, grad_neg: Tensor):  # type: ignore[override]
        user, positives, pools, pos_unit, pos_inverse, pool_unit, pool_inverse = ctx.saved_tensors
        normalize = ctx.normalize
        batch, dim = user.shape
        grad_user = grad_pos.unsqueeze(-1) * pos_unit
        ids = [positives]
        grads = [normalize_backward(grad_pos.unsqueeze(-1) * user, pos_unit, pos_inverse, normalize)]
        flat_unit, flat_inverse, flat_pools = pool_unit.reshape(-1, dim), pool_inverse.reshape(-1, 1), pools.reshape(-1)
        rows, cols, values = active_entries(grad_neg)
        sparse_enough = values is not None
        size = rows_per_pool(batch, pools)
        if sparse_enough:  # the flat pooled row of each active entry
            slots = cols if pools.dim() == 1 else (rows // size) * pools.shape[1] + cols
        if sparse_enough and size == 1:  # per-example negatives: every active entry is its own pooled row
            values = values.unsqueeze(-1)
            unit = flat_unit.index_select(0, slots)
            grad_user.index_add_(0, rows, values * unit)
            ids.append(flat_pools.index_select(0, slots))
            grads.append(normalize_backward(values * user.index_select(0, rows), unit, flat_inverse[slots], normalize))
        else:
            if sparse_enough:  # shared or grouped pools: both products as sparse x dense
                to_user, grad_unit = sparse_products(rows, slots, values, flat_unit, user)
                grad_user += to_user
            elif pools.dim() == 1:
                grad_neg = grad_neg.to_dense()
                grad_user += grad_neg @ pool_unit
                grad_unit = grad_neg.T @ user
            else:
                groups, grad_neg = pools.shape[0], grad_neg.to_dense()
                padding = (0, 0, 0, size * groups - batch)
                grad_groups = F.pad(grad_neg, padding).view(groups, size, -1)
                grad_user += torch.bmm(grad_groups, pool_unit).reshape(-1, dim)[:batch]
                grad_unit = torch.bmm(grad_groups.transpose(1, 2), F.pad(user, padding).view(groups, size, dim))
            ids.append(flat_pools)
            grads.append(normalize_backward(grad_unit.reshape(-1, dim), flat_unit, flat_inverse, normalize))
        ids, grads = torch.cat(ids), torch.cat(grads)
        if ctx.sparse:
            grad_table = torch.sparse_coo_tensor(ids.unsqueeze(0), grads, ctx.table_shape, check_invariants=False)
        else:
            grad_table = torch.zeros(ctx.table_shape, dtype=grads.dtype, device=grads.device).index_add_(0, ids, grads)
        return grad_user, grad_table, None, None, None, None
