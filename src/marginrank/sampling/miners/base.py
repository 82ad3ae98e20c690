"""What every miner shares: input checks, ``no_grad``, the output contract, deterministic top-k."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from marginrank.errors import MarginRankError


def select_top(scores: torch.Tensor, k: int, allowed: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` highest ``scores [B, C]`` per row among ``allowed``: ``(idx [B, k], valid [B, k])``.

    Ordered by score, highest first; equal scores are taken and ordered by ascending candidate
    index, so the result is deterministic.  Rows with fewer than ``k`` allowed candidates are
    padded with ``valid=False`` entries (their ``idx`` is some disallowed candidate, or 0 when
    ``k > C``).
    """
    rows, width = scores.shape
    keep = min(k, width)
    masked = scores if allowed is None else scores.masked_fill(~allowed, float("-inf"))
    if keep == 0:
        return torch.zeros(rows, k, dtype=torch.int64), torch.zeros(rows, k, dtype=torch.bool)
    threshold = masked.topk(keep, dim=1).values[:, -1:]
    above = masked > threshold
    tied = masked == threshold
    missing = keep - above.sum(dim=1, keepdim=True)
    chosen = above | (tied & (torch.cumsum(tied, dim=1) <= missing))
    idx = chosen.nonzero()[:, 1].view(rows, keep)
    by_score = masked.gather(1, idx).sort(dim=1, descending=True, stable=True).indices
    idx = idx.gather(1, by_score)
    valid = torch.ones_like(idx, dtype=torch.bool) if allowed is None else allowed.gather(1, idx)
    if keep < k:
        idx = torch.cat([idx, idx.new_zeros(rows, k - keep)], dim=1)
        valid = torch.cat([valid, valid.new_zeros(rows, k - keep)], dim=1)
    return idx, valid


class Miner(ABC):
    """Choose negatives from a candidate pool by their scores.

    ``miner(scores [B, C], pos_scores [B] | None, candidate_mask [B, C] | None) -> (idx, valid)``:
    ``idx [B, n]`` int64 are positions in the candidate pool (the trainer gathers the item ids,
    ``candidates.gather(1, idx)`` or ``pool[idx]``), ``valid [B, n]`` bool is the loss's ``neg_mask``
    (True = a real negative, False = padding).  ``candidate_mask`` False marks candidates that
    must not be picked (e.g. known positives).  Runs under ``torch.no_grad()``.
    """

    num_negatives: int | None

    def set_epoch(self, epoch: int) -> None:
        """The 0-based epoch about to run (for miners that change with training; here nothing)."""

    def manual_seed(self, seed: int) -> None:
        """Reseed the miner's random draws (for miners that draw; here nothing)."""

    def __call__(
        self,
        scores: torch.Tensor,
        pos_scores: torch.Tensor | None = None,
        candidate_mask: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores, pos_scores, candidate_mask = _checked(scores, pos_scores, candidate_mask)
        with torch.no_grad():
            idx, valid = self.mine(scores, pos_scores, candidate_mask)
        if idx.dtype != torch.int64 or valid.dtype != torch.bool or idx.shape != valid.shape or idx.shape[0] != scores.shape[0]:
            raise AssertionError(f"{type(self).__name__} broke the miner contract")
        return idx, valid

    @abstractmethod
    def mine(
        self, scores: torch.Tensor, pos_scores: torch.Tensor | None, candidate_mask: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(idx [B, n], valid [B, n])`` from checked, detached inputs."""


def _checked(
    scores: torch.Tensor, pos_scores: torch.Tensor | None, candidate_mask: torch.Tensor | None
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
    if not isinstance(scores, torch.Tensor) or scores.dim() != 2 or not scores.dtype.is_floating_point:
        raise MarginRankError("scores must be a floating-point [B, C] tensor")
    if bool(torch.isnan(scores).any()):
        raise MarginRankError("scores contain NaN: cannot rank candidates")
    rows = scores.shape[0]
    if pos_scores is not None and (not isinstance(pos_scores, torch.Tensor) or pos_scores.shape != (rows,)):
        raise MarginRankError(f"pos_scores must be a [{rows}] tensor")
    if candidate_mask is not None and (
        not isinstance(candidate_mask, torch.Tensor)
        or candidate_mask.dtype != torch.bool
        or candidate_mask.shape != scores.shape
    ):
        raise MarginRankError(f"candidate_mask must be a bool tensor of shape {tuple(scores.shape)}")
    return scores.detach(), None if pos_scores is None else pos_scores.detach(), candidate_mask
