"""The label task: class-balanced batches of feature vectors; positives and negatives from the labels."""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch import Tensor, nn

from marginrank.checks import require, require_choice
from marginrank.models.similarity import SIMILARITIES, pairwise_similarity
from marginrank.sampling.class_balanced import ClassBalancedBatches
from marginrank.sampling.label_miners import BatchAllMiner, LabelMiner
from marginrank.sampling.label_miners.base import label_masks
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

    ``per_anchor=True`` (no miner: every positive and negative of every anchor) scores one row per
    anchor instead, ``S [B, B]`` as it is: ``neg = S``, ``mask`` its different-label columns,
    ``pos_mask`` its same-label ones (the sample itself left out), ``pos`` the diagonal ``S[a, a]``
    (not a positive; the loss reads the positives through ``pos_mask``). A loss that works per
    anchor and takes ``pos_mask`` (multi-similarity) then does ``B`` rows of work instead of one per
    pair, ``(samples_per_class - 1)`` times as many.
    """

    loss_keywords: frozenset[str] = frozenset()
    optional_keywords: frozenset[str] = frozenset({"pos_groups"})

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
        per_anchor: bool = False,
    ) -> None:
        self.features = torch.as_tensor(features, dtype=torch.float32)
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        require(self.features.dim() == 2 and len(self.features) == len(self.labels),
                f"features must be [n, F] with one label each; got {list(self.features.shape)} and {len(self.labels)} labels")
        self.similarity = require_choice("similarity", similarity, SIMILARITIES)
        require(not (per_anchor and miner is not None), "per_anchor scores every positive and negative of each anchor: it takes no miner")
        self.miner = BatchAllMiner() if miner is None else miner
        require(isinstance(self.miner, LabelMiner), f"miner must be a LabelMiner; got {type(self.miner).__name__}")
        self.per_anchor = bool(per_anchor)
        if self.per_anchor:
            self.loss_keywords, self.optional_keywords = frozenset({"pos_mask"}), frozenset()
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
        if self.per_anchor:
            same, different = label_masks(labels)
            return Scores(similarity.diagonal(), similarity, different, (batch,), {"pos_mask": same})
        picks = self.miner(similarity.detach(), labels, embeddings.detach())
        pos = similarity[picks.anchor, picks.positive]
        return Scores(pos, similarity[picks.anchor], picks.negatives, (batch,), {"pos_groups": picks.anchor})
