"""The group task: learning to rank over feature rows grouped by query."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from marginrank.checks import require_choice, require_integer
from marginrank.data.groups import RankingGroups
from marginrank.errors import MarginRankError
from marginrank.guards.standardize import standardize_groups
from marginrank.sampling.miners.base import Miner
from marginrank.training.seeds import BATCHES, MINERS, EpochSeeds
from marginrank.training.tasks.base import Scores

EXAMPLE_WEIGHT = "example_weight"
ROW_WEIGHTS = ("none", "gain", "ndcg")


def row_weights(labels: Tensor, kind: str) -> Tensor:
    """The weight of each row of ``labels [g, S]`` (padding -1) as a positive.

    - ``"gain"``: ``2^rel - 1``, as NDCG counts the row.
    - ``"ndcg"``: the row's term in its group's ideal DCG over that DCG,
      ``(2^rel - 1) / log2(2 + r) / IDCG``, ``r`` the number of rows labelled above it: the share of
      the group's NDCG the row carries at its ideal place. Every group then weighs about alike, and
      the rows that belong at the top weigh most (LambdaRank's |delta NDCG| weighting of pairs,
      Burges 2010, taken per positive).
    """
    gains = torch.exp2(labels.clamp_min(0)) - 1
    if kind == "gain":
        return gains
    above = (labels.unsqueeze(1) > labels.unsqueeze(2)).sum(dim=2)
    ideal = gains.sort(dim=1, descending=True).values
    discounts = 1 / torch.log2(torch.arange(2, labels.shape[1] + 2, device=labels.device, dtype=labels.dtype))
    ideal_dcg = (ideal * discounts).sum(dim=1, keepdim=True)
    return gains / torch.log2(above + 2.0) / ideal_dcg.clamp_min(torch.finfo(labels.dtype).tiny)


def ranked_groups(data: RankingGroups) -> np.ndarray:
    """The groups with two different labels (the others hold no pair to learn from)."""
    labels, starts = data.labels.numpy(), data.offsets[:-1]
    return np.flatnonzero(np.maximum.reduceat(labels, starts) > np.minimum.reduceat(labels, starts))


class GroupTask:
    """Batches of whole groups. Within a group, every row labelled above some other row is a
    positive, and the rows labelled below it are its negatives: ``pos [P]``, ``neg [P, S]`` (the
    group's scores, ``S`` the batch's largest group) with ``mask`` True at the lower-labelled rows.

    - ``scorer(features [n, F]) -> scores [n]``: any ``nn.Module`` (e.g. :class:`~marginrank.models.MLPScorer`).
    - ``weights``: what each positive weighs (``example_weight`` for a
      :class:`~marginrank.losses.Weighted` loss; see :func:`row_weights`): ``"none"`` (1),
      ``"gain"`` or ``"ndcg"``.
    - ``standardize_scores``: the loss sees each group's scores as z-scores
      (:func:`~marginrank.guards.standardize_groups`), the max-margin collapse guard.
    - ``miner``: picks, per positive, the negatives the loss sees among its lower-labelled rows.
    - ``pos_groups`` (the group of each positive) go to a loss that groups positives.
    """

    optional_keywords = frozenset({"pos_groups"})

    def __init__(
        self,
        data: RankingGroups,
        *,
        groups_per_batch: int = 16,
        weights: str = "none",
        standardize_scores: bool = False,
        miner: Miner | None = None,
    ) -> None:
        if not isinstance(data, RankingGroups):
            raise MarginRankError(f"data must be RankingGroups (see marginrank.data.read_ranking); got {type(data).__name__}")
        self.groups_per_batch = require_integer("groups per batch", groups_per_batch, 1)
        self.data, self.miner = data, miner
        self.weights = require_choice("weights", weights, ROW_WEIGHTS)
        self.standardize_scores = bool(standardize_scores)
        self.trainable = ranked_groups(data)
        if len(self.trainable) == 0:
            raise MarginRankError(f"{data.source}: no group has two different labels, so no row ranks above another")
        self.generator = torch.Generator()
        self.loss_keywords = frozenset({EXAMPLE_WEIGHT} if self.weights != "none" else ())

    def __len__(self) -> int:
        return -(-len(self.trainable) // self.groups_per_batch)

    def begin_epoch(self, epoch: int, seeds: EpochSeeds) -> None:
        self.generator.manual_seed(seeds.shared(BATCHES))
        if self.miner is not None:
            self.miner.manual_seed(seeds.per_rank(MINERS))
            self.miner.set_epoch(epoch - 1)

    def batches(self) -> Iterator[np.ndarray]:
        order = self.trainable[torch.randperm(len(self.trainable), generator=self.generator).numpy()]
        return iter(np.array_split(order, len(self)))

    def group_scores(self, scorer: nn.Module, groups: np.ndarray, device: torch.device) -> tuple[Tensor, Tensor, Tensor]:
        """``(scores [g, S], labels [g, S], valid [g, S])`` of ``groups``; padding has label -1."""
        rows = self.data.padded_rows(groups)
        valid = rows >= 0
        kept = rows[valid]
        flat = scorer(self.data.features[kept].to(device))
        scores = torch.zeros(rows.shape, dtype=flat.dtype, device=device).masked_scatter(valid.to(device), flat)
        labels = torch.full(rows.shape, -1.0).masked_scatter(valid, self.data.labels[kept])
        return scores, labels.to(device), valid.to(device)

    def scores(self, scorer: nn.Module, batch: np.ndarray, device: torch.device) -> Scores:
        scores, labels, valid = self.group_scores(scorer, batch, device)
        if self.standardize_scores:
            scores = standardize_groups(scores, valid)
        below = (labels.unsqueeze(2) > labels.unsqueeze(1)) & valid.unsqueeze(1)
        is_positive = below.any(dim=2)
        group_of = torch.arange(len(batch), device=device).unsqueeze(1).expand_as(is_positive)[is_positive]
        pos, neg, mask = scores[is_positive], scores[group_of], below[is_positive]
        extras = {"pos_groups": group_of}
        if self.weights != "none":
            extras[EXAMPLE_WEIGHT] = row_weights(labels, self.weights)[is_positive]
        if self.miner is not None:
            picked, mask = self.miner(neg.detach(), pos.detach(), mask)
            neg = neg.gather(1, picked)
        return Scores(pos, neg, mask, (), extras)
