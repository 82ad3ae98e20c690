"""A multilayer-perceptron scorer ``s(x)`` for items given as feature vectors."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from marginrank.checks import require_choice, require_positive
from marginrank.errors import MarginRankError

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class MLPScorer(nn.Module):
    """``s(x) = w . h(x) + b`` with ``h`` a stack of Linear + activation layers (the setting of the
    max-margin collapse report, docs/collapse.md).

    Args:
        in_features: width ``F`` of the item feature vectors.
        hidden: widths of the hidden layers [(64, 64)]; ``()`` gives a linear scorer.
        activation: ``"relu"`` [default], ``"tanh"`` or ``"gelu"``.
        normalize_output: bounded (cosine) head ``s(x) = output_scale * cos(w, h(x))`` instead of
            ``w . h(x) + b``. Scores lie in ``[-output_scale, output_scale]`` and no longer fall by
            shrinking the weights (the head is invariant to the scale of ``h`` and ``w``), as in
            TransE's unit-norm entities. It does not stop ``h(x)`` from turning to one direction
            for every item, which a max-margin loss on noisy positives still rewards; see
            docs/collapse.md and :func:`marginrank.guards.standardize_scores`.
        output_scale: the bound of the normalized head [10.0]; it must exceed half the margin of the
            loss for the margin to be reachable.

    Layers use PyTorch's default initialisation; the caller seeds torch.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int] = (64, 64),
        *,
        activation: str = "relu",
        normalize_output: bool = False,
        output_scale: float = 10.0,
    ) -> None:
        super().__init__()
        widths = [in_features, *hidden]
        if any(not isinstance(width, int) or width < 1 for width in widths):
            raise MarginRankError(f"in_features and hidden widths must be positive integers; got {widths}")
        require_choice("activation", activation, ACTIVATIONS)
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(width_in, width_out), ACTIVATIONS[activation]()]
        self.in_features = in_features
        self.body = nn.Sequential(*layers)
        self.normalize_output = bool(normalize_output)
        self.output_scale = require_positive("output_scale", output_scale)
        self.head = nn.Linear(widths[-1], 1, bias=not self.normalize_output)

    def forward(self, x: Tensor) -> Tensor:
        """Scores ``[...]`` of items ``x [..., F]``."""
        if x.dim() < 1 or x.shape[-1] != self.in_features:
            raise MarginRankError(f"expected items [..., {self.in_features}]; got shape {list(x.shape)}")
        hidden = self.body(x)
        if self.normalize_output:
            direction = F.normalize(self.head.weight[0], dim=0)
            return self.output_scale * (F.normalize(hidden, dim=-1) @ direction)
        return self.head(hidden).squeeze(-1)

    def extra_repr(self) -> str:
        return f"normalize_output={self.normalize_output}, output_scale={self.output_scale}"
