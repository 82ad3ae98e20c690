import warnings

import numpy as np
import pytest
import scipy.sparse as sp

from marginrank.metrics import TrainingOverlapWarning, UnseenInTrainingWarning, check_evaluation_split

TRAIN = sp.csr_matrix(np.array([[1, 1, 0, 0, 0], [0, 1, 1, 0, 0], [1, 0, 1, 0, 0]], dtype=np.float32))


def caught(train, target, name="test"):
    with warnings.catch_warnings(record=True) as records:
        warnings.simplefilter("always")
        check_evaluation_split(train, target, name)
    return [(record.category, str(record.message)) for record in records]


def test_a_split_inside_the_training_pairs_warns_with_the_way_out():
    inside = sp.csr_matrix(np.array([[1, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 1, 0, 0]], dtype=np.float32))
    ((category, message),) = caught(TRAIN, inside, "valid")
    assert category is TrainingOverlapWarning
    assert message.startswith("3 of the 3 valid pairs (100%) are training pairs too")
    assert "hold the valid pairs out of the training data" in message and "\n" not in message


def test_a_mostly_fresh_split_is_silent():
    fresh = sp.csr_matrix(np.array([[1, 0, 1, 0, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0]], dtype=np.float32))
    assert caught(TRAIN, fresh) == []  # one of four pairs is a training pair: not most


def test_items_and_users_without_training_pairs_are_counted_and_said_kept():
    train = sp.vstack([TRAIN, sp.csr_matrix((1, 5))]).tocsr()
    target = sp.csr_matrix(np.array([[0, 0, 0, 1, 0], [0, 0, 0, 1, 1], [0, 1, 0, 0, 0], [1, 0, 0, 0, 0]], dtype=np.float32))
    ((category, message),) = caught(train, target)
    assert category is UnseenInTrainingWarning
    assert message.startswith("2 test items and 1 test users have no training pair; they are kept")


@pytest.mark.parametrize(
    "target", [sp.csr_matrix((3, 5)), sp.csr_matrix(np.array([[0, 0, 1, 0, 0], [1, 0, 0, 0, 0], [0, 1, 0, 0, 0]], dtype=np.float32))]
)
def test_an_empty_or_clean_split_is_silent(target):
    assert caught(TRAIN, target) == []
