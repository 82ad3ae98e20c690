"""Any score miner (hard, semi-hard, warm-up, mixed) run per anchor-positive pair over the batch."""

from __future__ import annotations

import torch
from torch import Tensor

from marginrank.sampling.label_miners.base import LabelMiner, Picks, all_pairs
from marginrank.sampling.miners.base import Miner


class PerPairMiner(LabelMiner):
    """Every anchor-positive pair ``(a, p)`` is a row; ``miner`` picks its negatives among the
    batch's different-label samples from the scores ``S[a, :]``, with ``S[a, p]`` as the positive
    score. E.g. ``PerPairMiner(SemiHardMiner(margin))`` is FaceNet's semi-hard mining (every
    negative with ``s_p - margin < s_n < s_p``; PML's ``TripletMarginMiner(margin, "semihard")``
    up to ties at the band's edge), ``PerPairMiner(HardNegativeMiner(1))`` each pair's hardest
    negative, and ``PerPairMiner(WarmupMiner(HardNegativeMiner(1), epochs))`` starts uniform.
    """

    def __init__(self, miner: Miner) -> None:
        self.miner = miner

    def set_epoch(self, epoch: int) -> None:
        self.miner.set_epoch(epoch)

    def manual_seed(self, seed: int) -> None:
        self.miner.manual_seed(seed)

    def mine(self, scores: Tensor, labels: Tensor, embeddings: Tensor) -> Picks:
        anchor, positive, different = all_pairs(labels)
        rows = scores[anchor]
        idx, valid = self.miner(rows, scores[anchor, positive], different[anchor])
        negatives = torch.zeros_like(rows, dtype=torch.bool)
        picked_rows = torch.arange(len(anchor), device=scores.device)[:, None].expand_as(idx)
        negatives[picked_rows[valid], idx[valid]] = True
        return Picks(anchor, positive, negatives)
