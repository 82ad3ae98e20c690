"""The k largest scores of each row, exactly, reading most of the row only once.

``torch.topk`` over a full-ranking row (tens of thousands of items) costs as much as the score
product itself on a CPU. Cut the row into blocks of ``block`` columns and keep each block's maximum:
the k blocks with the largest maxima hold the row's k largest values, because every block left out
has a maximum no larger than each of the k kept ones, and each kept block holds one value at least
that large. ``torch.topk`` then runs over the maxima and over the ``k * block`` kept columns only.
The values returned are those of ``torch.topk`` (the same multiset, in descending order); among
equal values the columns may differ, as they may between two ``torch.topk`` kernels.
"""

from __future__ import annotations

import torch
from torch import Tensor

BLOCK = 64
MIN_BLOCKS_PER_K = 4  # below this many blocks per kept block, a plain topk is as fast


def top_k(scores: Tensor, k: int, block: int = BLOCK) -> tuple[Tensor, Tensor]:
    """``(values [rows, k], columns [rows, k])``: each row's k largest scores, descending, and their columns.

    >>> scores = (torch.arange(42.0) * 7).remainder(43).unsqueeze(0)   # distinct values, scattered
    >>> values, columns = top_k(scores, 3, block=4)                      # 10 full blocks and a partial one
    >>> values.tolist(), columns.tolist()
    ([[42.0, 41.0, 40.0]], [[6, 12, 18]])
    """
    rows, n = scores.shape
    blocks = n // block
    if blocks < MIN_BLOCKS_PER_K * k:
        values, columns = torch.topk(scores, k, dim=1)
        return values, columns
    full = blocks * block
    maxima = scores[:, :full].view(rows, blocks, block).amax(dim=2)
    if full < n:
        maxima = torch.cat([maxima, scores[:, full:].amax(dim=1, keepdim=True)], dim=1)
    kept = torch.topk(maxima, k, dim=1).indices
    columns = (kept[:, :, None] * block + torch.arange(block, device=scores.device)).flatten(1)
    outside = columns >= n
    candidates = scores.gather(1, columns.clamp(max=n - 1)).masked_fill_(outside, -torch.inf)
    values, where = torch.topk(candidates, k, dim=1)
    return values, columns.gather(1, where)
