"""Learning-rate schedules stepped once per optimizer step.

The other schedule the trainer knows, the cut on a plateau, is torch's ``ReduceLROnPlateau`` and
is stepped on evaluations instead. A per-step schedule never looks at a metric, so under the
papers' protocol it does not let the test split steer the learning rate.
"""

from __future__ import annotations

import math

import torch

from marginrank.errors import MarginRankError


class _CosineFactor:
    """The multiplier of the base rate at step ``t``: ``floor + (1 - floor) (1 + cos(pi min(t/T, 1))) / 2``."""

    def __init__(self, total_steps: int, floor: float) -> None:
        self.total_steps, self.floor = total_steps, floor

    def __call__(self, step: int) -> float:
        progress = min(step / self.total_steps, 1.0)
        return self.floor + (1.0 - self.floor) * 0.5 * (1.0 + math.cos(math.pi * progress))


def cosine_decay(optimizer: torch.optim.Optimizer, total_steps: int, min_lr: float = 0.0) -> torch.optim.lr_scheduler.LambdaLR:
    """Anneal every group's rate from its base ``lr`` to ``min_lr`` over ``total_steps`` steps along a
    half cosine, then hold ``min_lr`` (SGDR without restarts; Loshchilov & Hutter, ICLR 2017):
    ``lr_t = min_lr + (lr - min_lr) (1 + cos(pi t / T)) / 2``.
    """
    if total_steps < 1:
        raise MarginRankError(f"a cosine schedule needs at least 1 step, got {total_steps}")
    rates = [group["lr"] for group in optimizer.param_groups]
    if min_lr > min(rates):
        raise MarginRankError(f"min_lr {min_lr} is above the learning rate {min(rates)}")
    factors = [_CosineFactor(total_steps, min_lr / rate if rate > 0 else 0.0) for rate in rates]
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factors)
