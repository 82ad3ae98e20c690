"""Checks of an evaluation split against the training pairs, for splits that would make the metrics
silently wrong: one whose pairs are mostly training pairs (evaluation never ranks a user's training
items, so nothing is left to find), and one with items or users that have no training pair.

>>> import warnings, scipy.sparse as sp
>>> train = sp.csr_matrix([[1, 1, 0], [0, 1, 1]])
>>> with warnings.catch_warnings(record=True) as caught:
...     warnings.simplefilter("always")
...     check_evaluation_split(train, sp.csr_matrix([[1, 0, 0], [0, 0, 1]]))
>>> caught[0].category.__name__
'TrainingOverlapWarning'
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse as sp

OVERLAP_SHARE = 0.5
"""The share of an evaluation split's pairs found among the training pairs above which it warns."""


class EvaluationSplitWarning(UserWarning):
    """An evaluation split that cannot measure what it is meant to."""


class TrainingOverlapWarning(EvaluationSplitWarning):
    """Most of the evaluation pairs are training pairs: the metrics fall towards 0."""


class UnseenInTrainingWarning(EvaluationSplitWarning):
    """Evaluation items or users without a training pair, ranked with untrained embeddings."""


def check_evaluation_split(train: sp.spmatrix, target: sp.spmatrix, name: str = "test") -> None:
    """Warn (one line each) when the ``name`` split ``target`` cannot be evaluated against ``train``
    as intended; both are users x items matrices of one index space, a stored non-zero is a pair."""
    train, target = sp.csr_matrix(train) != 0, sp.csr_matrix(target) != 0
    n_pairs = target.nnz
    if n_pairs == 0:
        return
    shared = train.multiply(target).nnz
    if shared > OVERLAP_SHARE * n_pairs:
        warnings.warn(
            f"{shared:,} of the {n_pairs:,} {name} pairs ({shared / n_pairs:.0%}) are training pairs too; evaluation "
            f"never ranks a user's training items, so these cannot be found and the metrics fall towards 0: "
            f"hold the {name} pairs out of the training data",
            TrainingOverlapWarning,
            stacklevel=2,
        )
    items = int(np.count_nonzero((target.getnnz(axis=0) > 0) & (train.getnnz(axis=0) == 0)))
    users = int(np.count_nonzero((target.getnnz(axis=1) > 0) & (train.getnnz(axis=1) == 0)))
    if items or users:
        warnings.warn(
            f"{items:,} {name} items and {users:,} {name} users have no training pair; they are kept (the catalogue "
            f"holds the items of both splits, as in the LightGCN protocol) and ranked with untrained embeddings",
            UnseenInTrainingWarning,
            stacklevel=2,
        )
