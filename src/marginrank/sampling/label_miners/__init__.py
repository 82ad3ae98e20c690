"""Label miners: pick a batch's triplets from its labels and similarities (:mod:`.base`)."""

from marginrank.sampling.label_miners.base import LabelMiner, Picks
from marginrank.sampling.label_miners.batch_all import BatchAllMiner
from marginrank.sampling.label_miners.batch_hard import BatchHardMiner
from marginrank.sampling.label_miners.distance_weighted import DistanceWeightedMiner
from marginrank.sampling.label_miners.per_pair import PerPairMiner
from marginrank.sampling.label_miners.registry import LABEL_MINERS, available, get

__all__ = [
    "BatchAllMiner", "BatchHardMiner", "DistanceWeightedMiner", "LABEL_MINERS", "LabelMiner", "PerPairMiner", "Picks",
    "available", "get",
]
