"""The label task: class-balanced batches of feature vectors; positives and negatives from the labels."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from marginrank.checks import require, require_choice
from marginrank.models.similarity import SIMILARITIES, pairwise_similarity
from marginrank.sampling.class_balanced import ClassBalancedBatches
from marginrank.sampling.label_miners import BatchAllMiner, LabelMiner
from marginrank.training.seeds import BATCHES, MINERS, EpochSeeds
from marginrank.training.tasks.base import Scores


class LabelTask:
    """Metric learning over labels: each batch holds ``classes_per_batch`` classes with
    ``samples_per_class`` samples each (:class:`~marginrank.sampling.ClassBalancedBatches`); the model
    embeds them ``[B, d]``, their pairwise ``similarity`` ``S [B, B]`` is scored, and ``miner``
    (a :class:`~marginrank.sampling.label_miners.LabelMiner`, [batch-all]) picks the triplets.

    Scores: one row per picked anchor-positive pair ``(a, p)``: ``pos = S[a, p]``,
    ``neg = S[a, :]`` (every sample of the batch), ``mask`` True on the row's picked negatives only;
    ``pos_groups`` (the anchor) goes to a loss that groups rows by anchor (multi-similarity). Every
    score loss (MMCL, CCL, softmax, hinge, triplet) thus trains on labels unchanged.
    """

    loss_keywords: frozenset[str] = frozenset()
    optional_keywords = frozenset({"pos_groups"})

    def __init__(
        self,
        features: Tensor,
        labels: Tensor,
        *,
        classes_per_batch: int = 8,
        samples_per_class: int = 4,
        batches: int | None = None,
        miner: LabelMiner | None = None,
        similarity: str = "cosine",
    ) -> None:
        self.features = torch.as_tensor(features, dtype=torch.float32)
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        require(self.features.dim() == 2 and len(self.features) == len(self.labels),
                f"features must be [n, F] with one label each; got {list(self.features.shape)} and {len(self.labels)} labels")
        self.similarity = require_choice("similarity", similarity, SIMILARITIES)
        self.miner = BatchAllMiner() if miner is None else miner
        require(isinstance(self.miner, LabelMiner), f"miner must be a LabelMiner; got {type(self.miner).__name__}")
        self.generator = torch.Generator()
        self.sampler = ClassBalancedBatches(self.labels, classes_per_batch, samples_per_class, self.generator, batches=batches)

    def __len__(self) -> int:
        return len(self.sampler)

    def begin_epoch(self, epoch: int, seeds: EpochSeeds) -> None:
        self.generator.manual_seed(seeds.shared(BATCHES))
        self.miner.manual_seed(seeds.per_rank(MINERS))
        self.miner.set_epoch(epoch - 1)

    def batches(self) -> Iterator[Tensor]:
        return iter(self.sampler)

    def scores(self, scorer: nn.Module, batch: Tensor, device: torch.device) -> Scores:
        labels = self.labels[batch].to(device)
        embeddings = scorer(self.features[batch].to(device))
        similarity = pairwise_similarity(embeddings, embeddings, self.similarity)
        picks = self.miner(similarity.detach(), labels, embeddings.detach())
        pos = similarity[picks.anchor, picks.positive]
        return Scores(pos, similarity[picks.anchor], picks.negatives, (batch,), {"pos_groups": picks.anchor})
