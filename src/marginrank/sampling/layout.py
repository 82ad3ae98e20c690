"""How the rows of a batch map onto pools of negatives.

A shared pool ``[N]`` serves every row; grouped pools ``[G, N]`` (``G < B``) serve ``ceil(B / G)``
consecutive rows each, so row ``r`` uses pool ``r // ceil(B / G)``. Samplers draw in this layout,
and models and collision masks read it back through :func:`rows_per_pool`.
"""

from __future__ import annotations

import torch
from torch import Tensor


def rows_per_pool(batch: int, pools: Tensor) -> int:
    """Consecutive batch rows served by one pool: all ``B`` for a shared ``[N]``, ``ceil(B / G)`` for ``[G, N]``."""
    return batch if pools.dim() == 1 else -(-batch // pools.shape[0])


def pool_of_row(batch: int, pools: Tensor) -> Tensor:
    """The pool that serves each batch row, ``[B]``: all 0 for a shared ``[N]``, ``r // ceil(B / G)`` for ``[G, N]``."""
    return torch.arange(batch, device=pools.device) // rows_per_pool(batch, pools)


def per_row(values: Tensor, batch: int) -> Tensor:
    """Values laid out like the pools (``[N]`` or ``[G, N]``, e.g. log-probabilities) as one row per batch
    row: ``[N]`` is returned as is (it broadcasts), ``[G, N]`` becomes ``[B, N]``."""
    if values.dim() == 1 or values.shape[0] == batch:
        return values
    return values.index_select(0, pool_of_row(batch, values))
