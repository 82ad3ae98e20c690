"""A scorer over standardized features: the feature scaling fitted on the training rows travels with the model."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Standardized(nn.Module):
    """``s(x) = scorer((x - mean) / scale)``, with ``mean`` and ``scale`` the training rows' mean and
    standard deviation per feature (``scale = 1`` for a constant feature). Kept as buffers, so that a
    saved model scores raw features as the trained one did."""

    def __init__(self, scorer: nn.Module, features: Tensor) -> None:
        super().__init__()
        self.scorer = scorer
        std, mean = torch.std_mean(features, dim=0, correction=0)
        self.register_buffer("mean", mean)
        self.register_buffer("scale", std.masked_fill(std <= 1e-12, 1.0))

    def forward(self, x: Tensor) -> Tensor:
        return self.scorer((x - self.mean) / self.scale)
