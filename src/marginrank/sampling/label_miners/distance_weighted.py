"""Distance-weighted sampling: negatives drawn against the density of distances on the sphere."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from marginrank.checks import require_positive
from marginrank.sampling.label_miners.base import LabelMiner, Picks, all_pairs, label_masks
from marginrank.sampling.rng import SeededRandom


class DistanceWeightedMiner(SeededRandom, LabelMiner):
    """One negative per anchor-positive pair, drawn with probability proportional to ``1 / q(d)``,
    ``q(d) = d^(n-2) (1 - d^2 / 4)^((n-3)/2)`` the density of distances between uniform points of
    the unit sphere in ``n`` dimensions, ``d`` clamped at ``cutoff`` and negatives at
    ``d >= nonzero_loss_cutoff`` left out (Wu, Manmatha, Smola & Krähenbühl, "Sampling Matters in
    Deep Embedding Learning", ICCV 2017; PML's ``DistanceWeightedMiner`` has the same
    :meth:`probabilities`). Distances are those of the L2-normalized embeddings; a pair whose
    anchor has no eligible negative gets none.
    """

    def __init__(self, cutoff: float = 0.5, nonzero_loss_cutoff: float = 1.4, seed: int | None = None) -> None:
        super().__init__(seed)
        self.cutoff = require_positive("cutoff", cutoff)
        self.nonzero_loss_cutoff = require_positive("nonzero_loss_cutoff", nonzero_loss_cutoff)

    def manual_seed(self, seed: int) -> None:
        self.generator.manual_seed(seed)

    def probabilities(self, embeddings: Tensor, labels: Tensor) -> Tensor:
        """``[B, B]``: row ``a`` is the distribution its negatives are drawn from (all 0 when none is eligible)."""
        unit = F.normalize(embeddings, dim=1)
        distance = torch.cdist(unit, unit).clamp_min(self.cutoff)
        width = float(unit.shape[1])
        log_weight = (2.0 - width) * distance.log() - (width - 3.0) / 2 * torch.log(1.0 - 0.25 * distance**2)
        different = label_masks(labels)[1]
        eligible = different & (distance < self.nonzero_loss_cutoff) & torch.isfinite(log_weight)
        log_weight = log_weight.masked_fill(~eligible, float("-inf"))
        shift = log_weight.amax(dim=1, keepdim=True).nan_to_num(neginf=0.0)
        weight = (log_weight - shift).exp()
        return weight / weight.sum(dim=1, keepdim=True).clamp_min(torch.finfo(weight.dtype).tiny)

    def mine(self, scores: Tensor, labels: Tensor, embeddings: Tensor) -> Picks:
        anchor, positive, _ = all_pairs(labels)
        probabilities = self.probabilities(embeddings, labels)[anchor]
        drawable = probabilities.sum(dim=1) > 0
        fallback = torch.where(drawable[:, None], probabilities, torch.ones_like(probabilities))
        drawn = torch.multinomial(fallback.cpu(), 1, generator=self.generator).squeeze(1).to(scores.device)
        negatives = torch.zeros_like(probabilities, dtype=torch.bool)
        negatives[torch.arange(len(anchor), device=scores.device), drawn] = drawable
        return Picks(anchor, positive, negatives)
