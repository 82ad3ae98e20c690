"""A multilayer-perceptron encoder: feature vectors to embeddings, for metric learning over labels."""

from __future__ import annotations

from collections.abc import Sequence

import torch.nn.functional as F
from torch import Tensor, nn

from marginrank.checks import require_choice
from marginrank.errors import MarginRankError
from marginrank.models.mlp import ACTIVATIONS


class MLPEncoder(nn.Module):
    """``e(x) = W_out h(x)`` with ``h`` a stack of Linear + activation layers; ``normalize``
    returns ``e(x) / ||e(x)||`` (unit-sphere embeddings, FaceNet's).

    Args:
        in_features: width ``F`` of the feature vectors.
        out_features: embedding width ``d`` [32].
        hidden: widths of the hidden layers [(128,)]; ``()`` gives a linear map.
        activation: ``"relu"`` [default], ``"tanh"`` or ``"gelu"``.
        normalize: L2-normalize the embeddings [False].

    Layers use PyTorch's default initialisation; the caller seeds torch.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int = 32,
        hidden: Sequence[int] = (128,),
        *,
        activation: str = "relu",
        normalize: bool = False,
    ) -> None:
        super().__init__()
        widths = [in_features, *hidden, out_features]
        if any(isinstance(width, bool) or not isinstance(width, int) or width < 1 for width in widths):
            raise MarginRankError(f"in_features, hidden and out_features must be positive integers; got {widths}")
        require_choice("activation", activation, ACTIVATIONS)
        layers: list[nn.Module] = []
        for width_in, width_out in zip(widths[:-2], widths[1:-1]):
            layers += [nn.Linear(width_in, width_out), ACTIVATIONS[activation]()]
        layers.append(nn.Linear(widths[-2], out_features))
        self.in_features, self.out_features = in_features, out_features
        self.hidden, self.activation, self.normalize = tuple(hidden), activation, bool(normalize)
        self.layers = nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        """Embeddings ``[B, d]`` of ``x [B, F]``."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise MarginRankError(f"expected features [B, {self.in_features}]; got shape {list(x.shape)}")
        embeddings = self.layers(x)
        return F.normalize(embeddings, dim=1) if self.normalize else embeddings

    def settings(self) -> dict[str, object]:
        """The constructor's arguments, to rebuild the encoder (e.g. from a saved file)."""
        return {"in_features": self.in_features, "out_features": self.out_features, "hidden": list(self.hidden),
                "activation": self.activation, "normalize": self.normalize}

    def extra_repr(self) -> str:
        return f"normalize={self.normalize}"
