"""Pairwise Softmax Loss (PSL)."""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_choice, require_positive
from marginrank.losses.base import Reduction, RankingLoss, masked_log_mean_exp


def _log_one_plus_tanh(d: Tensor) -> Tensor:
    """``log(1 + tanh d) = log 2 + logsigmoid(2d)``: finite for every finite d."""
    return F.logsigmoid(2 * d) + math.log(2.0)


def _floored_log(values: Tensor) -> Tensor:
    """``log(values)`` with values at or below 0 floored at the dtype's smallest normal number (zero gradient there)."""
    return values.clamp_min(torch.finfo(values.dtype).tiny).log()


LOG_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "tanh": _log_one_plus_tanh,
    "atan": lambda d: _floored_log(1 + torch.atan(d)),
    "relu": lambda d: _floored_log(1 + d),
    "exp": lambda d: d,
}


class PSL(RankingLoss):
    """Pairwise Softmax Loss: ``log mean_j a(d_j)^(1/t)`` with ``d_j = (s_nj - s_p) / scale``.

    Source: Yang, Chen, Xin, Zhou, Hu, Feng, Chen, Wang, "PSL: Rethinking and Improving Softmax Loss
    from Pairwise Perspective for Recommendation", NeurIPS 2024 (arXiv 2411.00163), the softmax-like
    form ("PSL1"). The sampled softmax is ``log sum_j exp(d_j / t)``; PSL replaces ``exp`` by a
    surrogate activation ``a`` that is a tighter bound of the step ``1[d >= 0]`` in DCG and gives
    hard (possibly false) negatives less weight:

    - ``"tanh"``: ``a(d) = 1 + tanh d``, computed as ``log 2 + logsigmoid(2d)``, finite everywhere;
    - ``"atan"``: ``a(d) = 1 + arctan d``;
    - ``"relu"``: ``a(d) = max(0, 1 + d)``;
    - ``"exp"``: ``a(d) = exp d``, the sampled softmax without the positive in the denominator at
      temperature ``scale * t`` (:class:`BSL` with ``t2 = 1``), for comparison.

    The authors' code (github.com/Tiny-Snow/IR-Benchmark, ``optim_PSL.py``) divides cosine scores
    by ``scale = 2`` so that ``d`` lies in ``[-1, 1]``, where the bounds above hold. ``"atan"`` and
    ``"relu"`` reach ``a = 0`` below ``d = -tan 1`` and ``d = -1``; such a negative contributes
    nothing (``log a`` is floored at the dtype's smallest normal number, with zero gradient).
    Near ``d = 0`` every activation is ``exp(d)`` to first order, so ``scale * t`` plays the role of
    the softmax temperature. Mean over the negatives instead of the authors' sum: the same
    gradients, a value that does not grow with N (``log N`` lower). Computed with logsumexp.

    Args:
        temperature: ``t`` [0.05], the authors' robust temperature ``tau*`` (searched over
            0.005-0.25).
        activation: ``"tanh"`` [default], ``"atan"``, ``"relu"`` or ``"exp"``.
        scale: divides the score differences [2.0, the authors' score temperature].
        reduction: ``"mean"`` | ``"sum"`` | ``"none"`` over the batch.

    With ``neg_mask`` the mean runs over the valid negatives; a row with none gives 0.
    """

    def __init__(
        self, temperature: float = 0.05, activation: str = "tanh", scale: float = 2.0, reduction: Reduction = "mean"
    ) -> None:
        super().__init__(reduction)
        self.temperature = require_positive("temperature", temperature)
        self.scale = require_positive("scale", scale)
        self.activation = require_choice("activation", activation, LOG_ACTIVATIONS)

    def per_example(self, pos: Tensor, neg: Tensor, mask: Tensor | None) -> Tensor:
        log_activation = LOG_ACTIVATIONS[self.activation]((neg - pos.unsqueeze(1)) / self.scale)
        return masked_log_mean_exp(log_activation, mask, 1 / self.temperature)

    def extra_repr(self) -> str:
        return f"temperature={self.temperature}, activation={self.activation!r}, scale={self.scale}, {super().extra_repr()}"
