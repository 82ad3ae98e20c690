"""An ensemble of scorers: the mean of their standardized scores."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn


class ScoreEnsemble(nn.Module):
    """``s(x) = mean_m (s_m(x) - mean_m) / std_m``, with ``mean_m`` and ``std_m`` member ``m``'s score
    statistics on ``reference`` rows (its training rows): members whose scores live on different
    scales count alike, and a row's score does not depend on the other rows scored with it."""

    def __init__(self, members: Sequence[nn.Module], reference: Tensor) -> None:
        super().__init__()
        self.members = nn.ModuleList(members)
        with torch.no_grad():
            scores = torch.stack([member(reference) for member in self.members])
        std, mean = torch.std_mean(scores, dim=1, correction=0)
        self.register_buffer("mean", mean)
        self.register_buffer("scale", std.clamp_min(torch.finfo(std.dtype).tiny))

    def forward(self, x: Tensor) -> Tensor:
        scores = torch.stack([member(x) for member in self.members], dim=-1)
        return ((scores - self.mean) / self.scale).mean(dim=-1)
