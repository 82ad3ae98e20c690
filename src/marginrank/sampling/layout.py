"""How the rows of a batch map onto pools of negatives.

A shared pool ``[N]`` serves every row; grouped pools ``[G, N]`` (``G < B``) serve ``ceil(B / G)``
consecutive rows each, so row ``r`` uses pool ``r // ceil(B / G)``. Samplers draw in this layout,
and models and collision masks read it back through :func:`rows_per_pool`.
"""

from __future__ import annotations

from torch import Tensor


def rows_per_pool(batch: int, pools: Tensor) -> int:
    """Consecutive batch rows served by one pool: all ``B`` for a shared ``[N]``, ``ceil(B / G)`` for ``[G, N]``."""
    return batch if pools.dim() == 1 else -(-batch // pools.shape[0])
