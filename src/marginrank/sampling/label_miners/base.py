"""What every label miner shares: the picks it returns and the input checks.

A label miner reads a batch's pairwise similarities ``[B, B]`` (higher = more alike) and labels
``[B]`` and picks the triplets a loss trains on, as rows: anchor-positive pairs, each with a mask
over the batch's columns marking its negatives. Any score loss then trains on
``(S[anchor, positive], S[anchor, :], mask)``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import torch
from torch import Tensor

from marginrank.errors import MarginRankError


@dataclass(frozen=True)
class Picks:
    """Rows ``(anchor [R], positive [R])`` (batch positions) and ``negatives [R, B]`` bool: the
    triplets ``(anchor[r], positive[r], n)`` for every ``negatives[r, n]``. A row may have no
    negative (a loss then keeps only its positive term)."""

    anchor: Tensor
    positive: Tensor
    negatives: Tensor

    def triplets(self) -> tuple[Tensor, Tensor, Tensor]:
        """``(anchor, positive, negative)`` index tensors of every picked triplet, ordered by row, then negative."""
        rows, negatives = self.negatives.nonzero(as_tuple=True)
        return self.anchor[rows], self.positive[rows], negatives


def label_masks(labels: Tensor) -> tuple[Tensor, Tensor]:
    """``(same [B, B], different [B, B])``: same label and not the sample itself; different label."""
    equal = labels[:, None] == labels[None, :]
    return equal & ~torch.eye(len(labels), dtype=torch.bool, device=labels.device), ~equal


def all_pairs(labels: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Every ordered anchor-positive pair ``(anchor [R], positive [R])``, row-major, and the ``[B, B]``
    different-label mask."""
    same, different = label_masks(labels)
    anchor, positive = same.nonzero(as_tuple=True)
    return anchor, positive, different


class LabelMiner(ABC):
    """``miner(scores [B, B], labels [B], embeddings [B, d]) -> Picks``, under ``torch.no_grad()``.

    ``set_epoch`` (0-based) and ``manual_seed`` are called by the task at the start of every epoch;
    here they do nothing.
    """

    def set_epoch(self, epoch: int) -> None:
        """The 0-based epoch about to run."""

    def manual_seed(self, seed: int) -> None:
        """Reseed the miner's random draws."""

    def __call__(self, scores: Tensor, labels: Tensor, embeddings: Tensor) -> Picks:
        rows = scores.shape[0] if isinstance(scores, Tensor) else -1
        if not isinstance(scores, Tensor) or scores.dim() != 2 or scores.shape[1] != rows or not scores.is_floating_point():
            raise MarginRankError("scores must be a floating-point [B, B] tensor of a batch's similarities")
        if not isinstance(labels, Tensor) or labels.shape != (rows,) or labels.is_floating_point():
            raise MarginRankError(f"labels must be an integer tensor [{rows}]")
        if not isinstance(embeddings, Tensor) or embeddings.dim() != 2 or embeddings.shape[0] != rows:
            raise MarginRankError(f"embeddings must be a [{rows}, d] tensor")
        with torch.no_grad():
            picks = self.mine(scores.detach(), labels, embeddings.detach())
        if picks.negatives.shape != (len(picks.anchor), rows) or picks.positive.shape != picks.anchor.shape:
            raise AssertionError(f"{type(self).__name__} broke the label miner contract")
        return picks

    @abstractmethod
    def mine(self, scores: Tensor, labels: Tensor, embeddings: Tensor) -> Picks:
        """The picks from checked, detached inputs."""
