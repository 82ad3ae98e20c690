import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats
import torch

from marginrank.errors import MarginRankError
from marginrank.sampling import UniformSampler

from .helpers import positives_of, random_interactions

P_FLOOR = 1e-4  # chi-square tests with fixed seeds: a correct sampler passes; a biased one lands far below


def test_per_example_items_are_uniform_chi_square():
    sampler = UniformSampler(50, 40, seed=3)
    draws = sampler.sample(torch.zeros(1000, dtype=torch.int64))
    assert draws.shape == (1000, 40) and draws.dtype == torch.int64
    counts = np.bincount(draws.flatten().numpy(), minlength=50)
    assert scipy.stats.chisquare(counts).pvalue > P_FLOOR


def test_shared_pool_shape_and_uniformity():
    sampler = UniformSampler(30, 20, shared=True, seed=4)
    pools = torch.stack([sampler.sample(torch.arange(8)) for _ in range(1500)])
    assert pools.shape == (1500, 20)
    counts = np.bincount(pools.flatten().numpy(), minlength=30)
    assert scipy.stats.chisquare(counts).pvalue > P_FLOOR


def test_exclusion_is_uniform_over_each_users_complement():
    matrix = random_interactions(3, 20, 0.5, seed=5)
    sampler = UniformSampler(20, 200, exclude=matrix, seed=6)
    draws = sampler.sample(torch.tensor([0, 1, 2] * 100))
    for user, allowed in enumerate(positives_of(matrix)):
        complement = sorted(set(range(20)) - allowed)
        values = draws[user::3].flatten().numpy()
        assert set(values.tolist()) <= set(complement)
        counts = np.bincount(values, minlength=20)[complement]
        assert scipy.stats.chisquare(counts).pvalue > P_FLOOR


def test_without_replacement_rows_are_distinct_and_exhaust_the_complement():
    # user 1 has 6 free items and asks for 6: the row must be a permutation of them (exact fallback)
    matrix = sp.csr_matrix(np.array([[1, 0, 0, 0, 0, 0, 0, 0, 0, 0], [1, 0, 1, 0, 1, 0, 0, 1, 0, 0]], dtype=np.float32))
    sampler = UniformSampler(10, 6, exclude=matrix, replace=False, seed=7)
    draws = sampler.sample(torch.tensor([0, 1, 1, 0]))
    for row, user in zip(draws.tolist(), [0, 1, 1, 0]):
        assert len(set(row)) == 6 and not set(row) & positives_of(matrix)[user]
    assert sorted(draws[1].tolist()) == [1, 3, 5, 6, 8, 9]


def test_shared_pool_without_replacement_has_no_repeats():
    pool = UniformSampler(12, 12, shared=True, replace=False, seed=8).sample(torch.arange(3))
    assert sorted(pool.tolist()) == list(range(12))


def test_collision_mask_for_shared_and_per_example_items():
    matrix = random_interactions(6, 15, 0.4, seed=9)
    sampler = UniformSampler(15, 9, shared=True, exclude=matrix, seed=10)
    users = torch.tensor([5, 1, 1, 3])
    pool = sampler.sample(users)
    truth = [[i in positives_of(matrix)[u] for i in pool.tolist()] for u in users.tolist()]
    assert sampler.collision_mask(users, pool).tolist() == truth
    per_example = torch.randint(15, (4, 9))
    truth = [[i in positives_of(matrix)[u] for i in row] for u, row in zip(users.tolist(), per_example.tolist())]
    assert sampler.collision_mask(users, per_example).tolist() == truth


def test_collision_mask_without_exclude_is_all_false():
    sampler = UniformSampler(15, 4, seed=0)
    assert not sampler.collision_mask(torch.tensor([0, 1]), torch.tensor([1, 2, 3])).any()


def test_user_with_every_item_is_an_error_naming_the_user():
    matrix = sp.csr_matrix(np.array([[0, 1, 0], [1, 1, 1]], dtype=np.float32))
    sampler = UniformSampler(3, 2, exclude=matrix, seed=0)
    with pytest.raises(MarginRankError, match="user 1 has no item left"):
        sampler.sample(torch.tensor([0, 1]))


def test_too_few_free_items_without_replacement_names_the_user():
    matrix = sp.csr_matrix(np.array([[0, 1, 0, 0], [1, 1, 0, 0]], dtype=np.float32))
    sampler = UniformSampler(4, 3, exclude=matrix, replace=False, seed=0)
    with pytest.raises(MarginRankError, match="user 1 has only 2 items"):
        sampler.sample(torch.tensor([0, 1]))


@pytest.mark.parametrize(
    ("kwargs", "users", "message"),
    [
        ({"n_items": 0, "num_negatives": 2}, [0], "n_items"),
        ({"n_items": 5, "num_negatives": 0}, [0], "num_negatives"),
        ({"n_items": 5, "num_negatives": 6, "replace": False}, [0], "6 distinct negatives from 5"),
        ({"n_items": 5, "num_negatives": 2, "exclude": sp.csr_matrix((2, 4))}, [0], "4 item columns"),
        ({"n_items": 5, "num_negatives": 2, "exclude": np.zeros((2, 5))}, [0], "scipy sparse"),
        ({"n_items": 5, "num_negatives": 2, "exclude": sp.csr_matrix((2, 5))}, [2], "users holds 2"),
        ({"n_items": 5, "num_negatives": 2}, [[0]], "1-D"),
        ({"n_items": 5, "num_negatives": 2}, [0.5], "integer"),
        ({"n_items": 5, "num_negatives": 2, "seed": -1}, [0], "seed"),
    ],
)
def test_bad_arguments_raise_marginrank_error(kwargs, users, message):
    with pytest.raises(MarginRankError, match=message):
        UniformSampler(**kwargs).sample(torch.tensor(users))
