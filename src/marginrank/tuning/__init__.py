"""Hyper-parameter search on the validation protocol: search spaces, the Optuna study, pruning.

>>> from marginrank.tuning import SearchSpace
>>> space = SearchSpace.from_table({"lr": {"log_uniform": [1e-4, 1e-2]}, "mmcl": {"count": 3, "margins": [0.3, 0.95]}})
>>> sorted(space.entries)
['lr', 'mmcl']

:class:`Search` needs Optuna (the ``tune`` extra); see ``docs/tuning.md``.
"""

from marginrank.tuning.pruning import ReportToTrial
from marginrank.tuning.results import best_trial, counted, summarize
from marginrank.tuning.search import STUDY_FILE, TRIALS, Search, trial_dir
from marginrank.tuning.space import MMCLMargins, SearchSpace, SpaceError, describe

__all__ = [
    "MMCLMargins", "ReportToTrial", "STUDY_FILE", "Search", "SearchSpace", "SpaceError", "TRIALS", "best_trial", "counted",
    "describe", "summarize", "trial_dir",
]
