"""Ranking losses over scores: ``loss(pos_scores [B], neg_scores [B, N], neg_mask=None)``.

See docs/losses.md for the formulas, sources and when to use each one.
"""

from marginrank.losses.base import RankingLoss
from marginrank.losses.bce import BCE
from marginrank.losses.bpr import BPR
from marginrank.losses.bsl import BSL
from marginrank.losses.ccl import CCL
from marginrank.losses.contrastive import Contrastive
from marginrank.losses.max_margin import MaxMarginHinge
from marginrank.losses.mmcl import MMCL
from marginrank.losses.mse import MSE
from marginrank.losses.multi_similarity import MultiSimilarity
from marginrank.losses.pairwise_hinge import PairwiseHinge
from marginrank.losses.psl import PSL
from marginrank.losses.registry import available, get
from marginrank.losses.sampled_softmax import SampledSoftmax
from marginrank.losses.top_k_weighted import TopKWeighted
from marginrank.losses.triplet import Triplet
from marginrank.losses.triplet_margin import TripletMargin
from marginrank.losses.weighted import Weighted

__all__ = [
    "BCE",
    "BPR",
    "BSL",
    "CCL",
    "Contrastive",
    "MMCL",
    "MSE",
    "MaxMarginHinge",
    "MultiSimilarity",
    "PSL",
    "PairwiseHinge",
    "RankingLoss",
    "SampledSoftmax",
    "TopKWeighted",
    "Triplet",
    "TripletMargin",
    "Weighted",
    "available",
    "get",
]
