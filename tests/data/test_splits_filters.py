import numpy as np
import pytest

import scipy.sparse as sp

from marginrank.data import Interactions, holdout_split, k_core, leave_last_out, rating_threshold
from marginrank.errors import MarginRankError


def random_interactions(seed=0, n_users=50, n_items=40, density=0.3, timestamps=False):
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < density
    users, items = np.nonzero(dense)
    extra = {"timestamps": rng.permutation(len(users)).astype(float)} if timestamps else {}
    return Interactions.from_pairs(users, items, user_ids=n_users, item_ids=n_items, ratings=rng.integers(1, 6, len(users)), **extra)


def keys(inter):
    return set(zip(inter.users.tolist(), inter.items.tolist()))


def test_holdout_partitions_each_user_at_the_ratio():
    inter = random_interactions()
    train, test = holdout_split(inter, 0.2, seed=3)
    assert keys(train) | keys(test) == keys(inter) and not keys(train) & keys(test)
    counts, held = inter.user_counts(), test.user_counts()
    assert np.all(held == np.maximum(np.minimum(np.rint(0.2 * counts), counts - 1), (counts > 1)))
    again, _ = holdout_split(inter, 0.2, seed=3)
    other, _ = holdout_split(inter, 0.2, seed=4)
    assert keys(again) == keys(train) and keys(other) != keys(train)


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True])
def test_holdout_seed_must_be_a_non_negative_integer(seed):
    with pytest.raises(MarginRankError, match="the split seed must be an integer >= 0"):
        holdout_split(random_interactions(), 0.2, seed=seed)


def test_leave_last_out_holds_out_the_latest():
    inter = random_interactions(timestamps=True)
    train, test = leave_last_out(inter, n=1)
    for user in range(inter.n_users):
        mine = inter.users == user
        if mine.sum() > 1:
            latest = inter.items[mine][np.argmax(inter.timestamps[mine])]
            assert test.items[test.users == user].tolist() == [latest]
    with pytest.raises(MarginRankError, match="needs timestamps"):
        leave_last_out(random_interactions())


def test_k_core_leaves_only_dense_rows_and_columns():
    inter = random_interactions(density=0.1, n_users=200, n_items=100)
    core = k_core(inter, 5)
    assert core.user_counts().min() >= 5 and core.item_counts().min() >= 5
    # every pair of the core is a pair of the input, in raw ids
    raw = set(zip(core.user_ids[core.users].tolist(), core.item_ids[core.items].tolist()))
    assert raw <= keys(inter)


def test_rating_threshold():
    inter = random_interactions()
    kept = rating_threshold(inter, 4)
    assert len(kept) == int((inter.ratings >= 4).sum()) and kept.ratings.min() >= 4


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda x: holdout_split(x, "0.2"), "test_ratio must be a finite number, got '0.2'"),
        (lambda x: holdout_split(x, 0.5, min_kept=None), "min_kept must be an integer >= 0, got None"),
        (lambda x: holdout_split(sp.csr_matrix((2, 2)), 0.2), "holdout_split takes Interactions .* got csr_matrix"),
        (lambda x: leave_last_out(x, n=-1), "n must be an integer >= 1, got -1"),
        (lambda x: leave_last_out(x, n=2.5), "n must be an integer >= 1, got 2.5"),
        (lambda x: k_core(x, None), "k must be an integer >= 1, got None"),
        (lambda x: k_core(x, 2, item_k=0), "item_k must be an integer >= 1, got 0"),
        (lambda x: rating_threshold(x, "4"), "min_rating must be a finite number, got '4'"),
        (lambda x: rating_threshold(x, float("nan")), "min_rating must be a finite number, got nan"),
    ],
)
def test_bad_arguments_are_named(call, message):
    with pytest.raises(MarginRankError, match=message):
        call(random_interactions(timestamps=True))
