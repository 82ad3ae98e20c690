"""Collapse detection: a per-epoch check on a fixed sample of users, with a plain-words report."""

from __future__ import annotations

import json

from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from torch import Tensor, nn

from marginrank.checks import require_non_negative, require_number, require_positive
from marginrank.errors import MarginRankError
from marginrank.guards.stats import collapse_stats, score_stats

ADVICE = (
    'The model is collapsing: try similarity = "cosine", loss = "mmcl" or "ccl", a norm constraint '
    "(max_norm = 1), or a lower learning rate (lr)."
)


@dataclass
class CollapseReport:
    """The verdict of one check: ``collapsed``, the statistics it used, and a message in plain words."""

    collapsed: bool
    stats: dict[str, float]
    message: str
    epoch: int
    reasons: list[str] = field(default_factory=list)


class CollapseMonitor:
    """Fires when the scores stop separating items, using scale-free criteria and the run's history.

    A check fires when any of these holds (each threshold is an argument):

    1. ``relative_spread < min_relative_spread`` [1e-3]: all items score about the same relative to
       the size of the scores (random vectors give about 1.25, whatever their scale).
    2. ``effective_rank < min_effective_rank`` [1.5] with width >= 2: the item vectors lie on about
       one line (Roy & Vetterli 2007).
    3. The spread fell by ``shrink_factor`` [10] or more from the best seen so far while
       ``standardized_gap <= max_gap`` [0]: the scores shrink and positives score no higher than
       other items. Shrinking alone is not collapse (a dot-product model starting from a 1e-4 init
       grows first), so the gap must fail too, unless the fall reaches ``severe_shrink_factor`` [1000].
    4. With a ``margin`` (that of the margin loss being trained): ``spread < margin_fraction * margin``
       [0.01]: scores differ by far less than the margin, so the loss sits at its trivial value ``m``.
       On embeddings (:meth:`check`, :meth:`check_model`) the positives must also fail to stand out,
       ``standardized_gap < margin_gap`` [0.5]: a healthy dot-product model grows from a 1e-4 init
       with a tiny spread for several epochs, but its positives lead by 1.4-2 spreads from the first.

    Args:
        n_users: size of the fixed user sample of :meth:`check_model` [256].
        seed: seed of that sample [0].
        margin: the margin of the loss being trained (hinge, max-margin, CCL) for criterion 4 [None:
            off, unless :meth:`check_scores` is given its own].
    """

    def __init__(
        self,
        n_users: int = 256,
        seed: int = 0,
        *,
        min_relative_spread: float = 1e-3,
        min_effective_rank: float = 1.5,
        shrink_factor: float = 10.0,
        severe_shrink_factor: float = 1000.0,
        max_gap: float = 0.0,
        margin_fraction: float = 0.01,
        margin: float | None = None,
        margin_gap: float = 0.5,
    ) -> None:
        if not isinstance(n_users, int) or n_users < 1:
            raise MarginRankError(f"n_users must be a positive integer; got {n_users!r}")
        self.n_users, self.seed = n_users, seed
        self.min_relative_spread = require_non_negative("min_relative_spread", min_relative_spread)
        self.min_effective_rank = require_non_negative("min_effective_rank", min_effective_rank)
        self.shrink_factor = require_positive("shrink_factor", shrink_factor)
        self.severe_shrink_factor = require_positive("severe_shrink_factor", severe_shrink_factor)
        self.max_gap = require_number("max_gap", max_gap)
        self.margin_fraction = require_non_negative("margin_fraction", margin_fraction)
        self.margin = None if margin is None else require_number("margin", margin)  # CCL may use m <= 0: then it never fires
        self.margin_gap = require_non_negative("margin_gap", margin_gap)
        self.history: list[tuple[int, dict[str, float]]] = []
        self._users: np.ndarray | None = None

    def state_dict(self) -> dict[str, str]:
        """The judged history (the best spread so far is the yardstick), to checkpoint with a run."""
        return {"history": json.dumps(self.history)}

    def load_state_dict(self, state: dict[str, str]) -> None:
        self.history = [(int(epoch), dict(stats)) for epoch, stats in json.loads(state["history"])]

    # -- inputs ----------------------------------------------------------------------------------
    def select_users(self, train: sp.spmatrix) -> np.ndarray:
        """The fixed sample: up to ``n_users`` users with at least one training item, drawn once."""
        if self._users is None:
            counts = sp.csr_matrix(train).getnnz(axis=1)
            candidates = np.flatnonzero(counts > 0)
            if len(candidates) == 0:
                raise MarginRankError("collapse monitor: no user has a training item")
            rng = np.random.default_rng(self.seed)
            size = min(self.n_users, len(candidates))
            self._users = np.sort(rng.choice(candidates, size=size, replace=False))
        return self._users

    def check_model(self, model: nn.Module, train: sp.spmatrix, epoch: int) -> CollapseReport:
        """:meth:`check` on a model with ``user_factors()`` / ``item_factors()`` (e.g. :class:`MF`)."""
        users = self.select_users(train)
        train = sp.csr_matrix(train)
        return self.check(model.user_factors()[users], model.item_factors(), train[users], epoch)

    # -- checks ----------------------------------------------------------------------------------
    def check(self, user_vectors: Tensor, item_vectors: Tensor, positives: sp.spmatrix, epoch: int) -> CollapseReport:
        """Judge embeddings by :func:`collapse_stats` (``positives``: one row per given user)."""
        stats = collapse_stats(user_vectors, item_vectors, positives)
        stats["dim"] = float(user_vectors.shape[1])
        return self._judge(stats, epoch, margin=self.margin, margin_gap=self.margin_gap)

    def check_scores(
        self, pos_scores: Tensor, neg_scores: Tensor, epoch: int, margin: float | None = None, neg_mask: Tensor | None = None
    ) -> CollapseReport:
        """Judge a score-only model by :func:`score_stats` of scores ``[B]``, ``[B, N]`` (e.g. held-out rows)."""
        margin = self.margin if margin is None else margin
        return self._judge(score_stats(pos_scores, neg_scores, neg_mask), epoch, margin=margin, margin_gap=None)

    def _judge(self, stats: dict[str, float], epoch: int, margin: float | None, margin_gap: float | None) -> CollapseReport:
        best_epoch, best = max(
            ((e, s["spread"]) for e, s in self.history), key=lambda pair: pair[1], default=(epoch, stats["spread"])
        )
        fall = best / max(stats["spread"], 1e-300)
        stats["spread_fall"] = max(fall, 1.0)
        reasons: list[str] = []
        if stats["relative_spread"] < self.min_relative_spread:
            reasons.append(
                f"scores of all items are nearly equal: they vary by {stats['relative_spread']:.2g} of their "
                f"size (spread {stats['spread']:.2g}, mean |score| {stats['mean_abs_score']:.2g})"
            )
        if "effective_rank" in stats and stats["dim"] >= 2 and stats["effective_rank"] < self.min_effective_rank:
            reasons.append(
                f"item vectors lie on about one line (effective rank {stats['effective_rank']:.2f} of {stats['dim']:.0f})"
            )
        gap_failed = stats["standardized_gap"] <= self.max_gap
        if fall >= self.severe_shrink_factor or (fall >= self.shrink_factor and gap_failed):
            reasons.append(
                f"the score spread fell {fall:.0f}x from its best ({best:.2g} at epoch {best_epoch}, now "
                f"{stats['spread']:.2g})" + (" while positives score no higher than other items "
                f"(gap {stats['gap']:.2g}, {stats['standardized_gap']:.2f} spreads)" if gap_failed else "")
            )
        at_margin = margin is not None and stats["spread"] < self.margin_fraction * margin
        if at_margin and (margin_gap is None or stats["standardized_gap"] < margin_gap):
            reasons.append(
                f"scores differ by far less than the margin (spread {stats['spread']:.2g} vs margin {margin:g}"
                + ("" if margin_gap is None else f", positives {stats['standardized_gap']:.2f} spreads above the rest")
                + "), so the loss sits at the margin"
            )
        self.history.append((epoch, dict(stats)))
        if reasons:
            message = f"epoch {epoch}: " + "; ".join(reasons) + ". " + ADVICE
        else:
            message = (
                f"epoch {epoch}: healthy (relative spread {stats['relative_spread']:.2f}, "
                f"positives {stats['standardized_gap']:.2f} spreads above the rest)"
            )
        return CollapseReport(bool(reasons), stats, message, epoch, reasons)
