"""Inverted dropout with cheap random draws on a CPU.

Torch's CPU dropout draws one Bernoulli variate per entry, and for a 64-wide embedding model that
draw is a large share of a training step (about 4 ms of a 40 ms step at batch 8192 on two cores).
Sixteen random bits decide an entry just as well: one 64-bit draw serves four entries.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from marginrank.errors import MarginRankError

LEVELS = 1 << 16  # keep decisions compare a uniform 16-bit integer with a cut


class Dropout(nn.Module):
    """``x * keep / (1 - p)`` with ``keep ~ Bernoulli(1 - p)`` per entry, in training mode only.

    On a CPU the rate is rounded to a multiple of ``2^-16`` (0.1 becomes 0.100006) and the scale
    uses the rounded rate, so ``E[output] = x`` exactly. Other devices use ``F.dropout``. The draws
    come from torch's global generator, as ``nn.Dropout``'s do, so ``torch.manual_seed`` repeats them.
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        if not 0.0 <= p < 1.0:
            raise MarginRankError(f"dropout must be in [0, 1); got {p!r}")
        self.p = p
        self.cut = round(p * LEVELS)  # entries whose 16-bit draw falls below the cut are dropped
        self.scale = LEVELS / (LEVELS - self.cut)

    def forward(self, x: Tensor) -> Tensor:
        if not self.training or self.cut == 0:
            return x
        if x.device.type != "cpu":
            return F.dropout(x, self.p, training=True)
        padded = -(-x.numel() // 4) * 4
        words = torch.empty(padded // 4, dtype=torch.int64).random_(-(2**63), 2**63 - 1)
        draws = words.view(torch.int16)[: x.numel()].view(x.shape)  # uniform over -2^15 .. 2^15 - 1
        kept = draws >= self.cut - LEVELS // 2
        factor = torch.where(kept, x.new_full((), self.scale), x.new_zeros(()))  # keep / (1 - p), in x's dtype
        return x * factor  # the backward is one multiplication by the same factor

    def extra_repr(self) -> str:
        return f"p={self.p}"
