"""Batch size, learning rate and pool grouping chosen from the data size when a run leaves them unset.

The rule comes from the reproduction runs (``benchmarks/reproduce.py``): on Yelp2018 and Gowalla,
batches of 4096 pairs with pools of negatives shared by 128 rows and Adam at lr 3e-4 learn as much
per epoch as batches of 1024 at 1e-4 while an epoch takes a fraction of the time. Smaller data gets
smaller batches (about ``STEPS_PER_EPOCH`` steps per epoch, at least 256 pairs) and a learning rate scaled by Adam's
square-root rule, ``lr = 3e-4 * sqrt(4096 / batch_size)``.
"""

from __future__ import annotations

import math

LARGEST_BATCH = 4096
SMALLEST_BATCH = 256
STEPS_PER_EPOCH = 64
REFERENCE_LR = 3e-4  # at LARGEST_BATCH
POOLS_PER_BATCH = 32


def auto_batch_size(n_pairs: int) -> int:
    """The power of two nearest ``n_pairs / STEPS_PER_EPOCH``, within [256, 4096].

    >>> auto_batch_size(1_100_000), auto_batch_size(100_000), auto_batch_size(43_000)
    (4096, 2048, 512)
    """
    target = max(n_pairs / STEPS_PER_EPOCH, 1.0)
    return int(min(LARGEST_BATCH, max(SMALLEST_BATCH, 2 ** round(math.log2(target)))))


def scaled_lr(batch_size: int) -> float:
    """Adam's square-root rule around the reproduction's lr at the largest batch.

    >>> round(scaled_lr(4096), 6), round(scaled_lr(1024), 6)
    (0.0003, 0.0006)
    """
    return REFERENCE_LR * math.sqrt(LARGEST_BATCH / batch_size)


def pool_group_size(batch_size: int) -> int:
    """Rows that share one pool of negatives: ``POOLS_PER_BATCH`` pools per batch.

    >>> pool_group_size(4096), pool_group_size(256)
    (128, 8)
    """
    return max(1, batch_size // POOLS_PER_BATCH)
