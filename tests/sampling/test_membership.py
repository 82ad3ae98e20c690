import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank.sampling import Membership

from .helpers import positives_of, random_interactions


def test_contains_matches_set_oracle_on_every_pair():
    matrix = random_interactions(7, 11, 0.3, seed=1)
    membership = Membership(matrix)
    users = torch.arange(7).repeat_interleave(11)
    items = torch.arange(11).repeat(7)
    truth = [i in positives_of(matrix)[u] for u, i in zip(users.tolist(), items.tolist())]
    assert membership.contains(users, items).tolist() == truth


def test_unsorted_duplicated_and_explicit_zero_entries_are_canonicalised():
    # user 0: item 3 twice (summed), item 1 stored as explicit zero (not a positive), unsorted order
    matrix = sp.csr_matrix((np.array([1.0, 1.0, 0.0, 1.0]), np.array([3, 3, 1, 0]), np.array([0, 4])), shape=(1, 5))
    membership = Membership(matrix)
    assert membership.contains(torch.zeros(5, dtype=torch.int64), torch.arange(5)).tolist() == [True, False, False, True, False]


def test_hits_in_pool_with_repeated_pool_items_matches_oracle():
    matrix = random_interactions(9, 13, 0.35, seed=2)
    users = torch.tensor([4, 0, 8, 4, 2])
    pool = torch.tensor([12, 3, 3, 0, 7, 12, 5])
    truth = [[i in positives_of(matrix)[u] for i in pool.tolist()] for u in users.tolist()]
    assert Membership(matrix).hits_in_pool(users, pool).tolist() == truth


def test_row_entries_and_sum_over_rows():
    matrix = sp.csr_matrix(np.array([[0, 1, 1], [0, 0, 0], [1, 0, 1]], dtype=np.float32))
    membership = Membership(matrix)
    row, item = membership.row_entries(torch.tensor([2, 1, 0]))
    assert row.tolist() == [0, 0, 2, 2] and item.tolist() == [0, 2, 1, 2]
    values = torch.tensor([10.0, 20.0, 40.0], dtype=torch.float64)
    assert membership.sum_over_rows(values).tolist() == [60.0, 0.0, 50.0]


def test_empty_matrix_contains_nothing():
    membership = Membership(sp.csr_matrix((3, 4)))
    assert not membership.contains(torch.tensor([0, 2]), torch.tensor([1, 3])).any()
    assert not membership.hits_in_pool(torch.tensor([0, 1]), torch.tensor([1, 2])).any()


@pytest.mark.parametrize(("n_users", "n_items"), [(200, 10), (10, 200)])
def test_hits_in_pool_walks_either_side_with_repeats_on_both(n_users, n_items):
    # many users/few items walks the users' rows; few users/many items walks the items' columns
    matrix = random_interactions(n_users, n_items, 0.3, seed=3)
    rng = np.random.default_rng(4)
    users = torch.from_numpy(rng.integers(0, n_users, 12))
    pool = torch.from_numpy(rng.integers(0, n_items, 15))
    truth = [[i in positives_of(matrix)[u] for i in pool.tolist()] for u in users.tolist()]
    assert Membership(matrix).hits_in_pool(users, pool).tolist() == truth


@pytest.mark.parametrize(("n_users", "n_items", "batch", "groups"), [(200, 10, 11, 3), (10, 200, 12, 4), (30, 30, 5, 5)])
def test_grouped_pools_match_oracle_on_each_rows_own_pool(n_users, n_items, batch, groups):
    # row b checks pool b // ceil(B / G); both walking directions, repeats within and across pools
    matrix = random_interactions(n_users, n_items, 0.3, seed=5)
    rng = np.random.default_rng(6)
    users = torch.from_numpy(rng.integers(0, n_users, batch))
    pools = torch.from_numpy(rng.integers(0, n_items, (groups, 9)))
    rows_per_pool = -(-batch // groups)
    truth = [[i in positives_of(matrix)[u] for i in pools[b // rows_per_pool].tolist()] for b, u in enumerate(users.tolist())]
    assert Membership(matrix).hits_in_pool(users, pools).tolist() == truth
