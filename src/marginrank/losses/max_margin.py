"""Max-margin hinge on the hardest negative."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_non_negative
from marginrank.losses.base import Reduction, RankingLoss, masked_max


class MaxMarginHinge(RankingLoss):
    """Hardest-negative hinge: ``relu(m + max_j s_nj - s_p)``.

    Source: the max-margin objective of the Stanford CS224n backpropagation notes
    (``J = max(0, 1 + s_c - s)``, so ``dJ/ds = -dJ/ds_c = -1`` while violated) with the hardest of
    the N negatives as ``s_c``, as in VSE++ (Faghri et al., BMVC 2018). Only the hardest negative
    receives gradient (+1; ties share it equally), the positive gets -1, and both get 0 once the
    margin is met.

    Warning: with unnormalized scores this loss has a trivial minimum in which every score is equal
    (loss = m); see docs/losses.md. Use cosine scores or a collapse guard.

    Args:
        margin: ``m`` [1.0] (>= 0).
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the max runs over the valid negatives; a row with none contributes 0.
    """

    def __init__(self, margin: float = 1.0, reduction: Reduction = "mean") -> None:
        super().__init__(reduction)
        self.margin = require_non_negative("margin", margin)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None) -> Tensor:
        hardest, has_valid = masked_max(neg, mask)
        violation = F.relu(self.margin + hardest - pos)
        if has_valid is None:
            return violation
        return torch.where(has_valid, violation, torch.zeros((), dtype=pos.dtype, device=pos.device))

    def extra_repr(self) -> str:
        return f"margin={self.margin}, {super().extra_repr()}"
