"""Collapse guards: prevention (:class:`NormConstraint`, :func:`standardize_scores`, cosine scoring in
:class:`marginrank.models.MF`) and detection (:class:`CollapseMonitor`). See docs/collapse.md.
"""

from marginrank.guards.monitor import CollapseMonitor, CollapseReport
from marginrank.guards.norm_constraint import NormConstraint
from marginrank.guards.standardize import standardize_groups, standardize_scores
from marginrank.guards.stats import collapse_stats, effective_rank, score_stats

__all__ = [
    "CollapseMonitor",
    "CollapseReport",
    "NormConstraint",
    "collapse_stats",
    "effective_rank",
    "score_stats",
    "standardize_groups",
    "standardize_scores",
]
