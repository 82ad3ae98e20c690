"""Grouped candidate lists for learning to rank: feature rows, graded labels, and the group (query)
each row belongs to, groups stored as consecutive runs of rows (LETOR's and LightGBM's layout)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from marginrank.checks import require, require_fraction, require_integer
from marginrank.errors import MarginRankError


@dataclass(frozen=True)
class RankingGroups:
    """``features [R, F]`` float32, ``labels [R]`` float32 (graded relevance, higher is better) and
    ``sizes [G]``: group ``g`` is rows ``offsets[g] .. offsets[g + 1] - 1``.

    Build with :meth:`from_arrays` (checks shapes and values) or a reader
    (:func:`marginrank.data.ranking_readers.read_ranking`).
    """

    features: Tensor
    labels: Tensor
    sizes: np.ndarray
    source: str = "<arrays>"

    @classmethod
    def from_arrays(cls, features: object, labels: object, sizes: object, source: str = "<arrays>") -> RankingGroups:
        """Check and convert: ``features`` ``[R, F]``, ``labels`` ``[R]``, ``sizes`` ``[G]`` positive
        integers adding up to ``R`` (LightGBM's ``group``)."""
        x = torch.as_tensor(np.asarray(features, dtype=np.float32))
        y = torch.as_tensor(np.asarray(labels, dtype=np.float32))
        sizes = np.asarray(sizes)
        if x.dim() != 2 or y.dim() != 1 or x.shape[0] != y.shape[0]:
            raise MarginRankError(f"expected features [R, F] and labels [R]; got {list(x.shape)} and {list(y.shape)}", path=source)
        if sizes.ndim != 1 or len(sizes) == 0 or not np.issubdtype(sizes.dtype, np.integer) or (sizes < 1).any():
            raise MarginRankError("group sizes must be a non-empty list of positive integers", path=source)
        if int(sizes.sum()) != x.shape[0]:
            raise MarginRankError(f"group sizes add up to {int(sizes.sum())} rows; there are {x.shape[0]}", path=source)
        for name, values in (("feature", x), ("label", y)):
            bad = (~torch.isfinite(values)).nonzero()
            if len(bad):
                raise MarginRankError(f"row {int(bad[0, 0])} has a {name} that is not a finite number", path=source)
        return cls(x, y, sizes.astype(np.int64), source)

    def __len__(self) -> int:
        """The number of groups."""
        return len(self.sizes)

    @property
    def n_features(self) -> int:
        return self.features.shape[1]

    @property
    def offsets(self) -> np.ndarray:
        """``[G + 1]`` row offsets of the groups."""
        return np.concatenate([[0], np.cumsum(self.sizes)])

    def padded_rows(self, groups: np.ndarray | None = None) -> Tensor:
        """Row indices of ``groups`` (all by default) as ``[g, S]`` int64, ``S`` their largest size;
        ``-1`` pads the shorter groups."""
        groups = np.arange(len(self)) if groups is None else np.asarray(groups)
        sizes, starts = self.sizes[groups], self.offsets[groups]
        width = int(sizes.max())
        columns = np.arange(width)
        rows = np.where(columns < sizes[:, None], starts[:, None] + columns, -1)
        return torch.from_numpy(rows)

    def subset(self, groups: np.ndarray) -> RankingGroups:
        """The groups ``groups`` (positions, in the order given) as their own set."""
        rows = self.padded_rows(groups)
        kept = rows[rows >= 0]
        return RankingGroups(self.features[kept], self.labels[kept], self.sizes[np.asarray(groups)], self.source)

    def split(self, share: float, seed: int = 0) -> tuple[RankingGroups, RankingGroups]:
        """``(rest, held)``: ``share`` of the groups (at least one) drawn at random and held out, whole."""
        require_fraction("validation share", share)
        require(len(self) >= 2, f"{self.source}: {len(self)} group cannot be split into training and validation groups")
        order = np.random.default_rng(seed).permutation(len(self))
        held = max(1, round(share * len(self)))
        return self.subset(np.sort(order[held:])), self.subset(np.sort(order[:held]))

    def folds(self, k: int, seed: int = 0) -> list[tuple[RankingGroups, RankingGroups]]:
        """``k`` ``(train, test)`` splits of the groups for cross-validation; every group is tested once."""
        require_integer("folds", k, 2, len(self))
        order = np.random.default_rng(seed).permutation(len(self))
        parts = np.array_split(order, k)
        return [
            (self.subset(np.sort(np.concatenate(parts[:i] + parts[i + 1:]))), self.subset(np.sort(part)))
            for i, part in enumerate(parts)
        ]
