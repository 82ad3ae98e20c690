import numpy as np
import pytest
import scipy.sparse as sp
import scipy.stats
import torch

from marginrank.errors import MarginRankError
from marginrank.sampling import PopularitySampler, item_counts

from .helpers import positives_of, random_interactions

COUNTS = np.array([0, 1, 2, 5, 10, 40, 100, 300], dtype=np.float64)


@pytest.mark.parametrize("alpha", [0.0, 0.75, 1.0])
def test_frequencies_match_count_power_alpha(alpha):
    sampler = PopularitySampler(COUNTS, 100, alpha=alpha, seed=11)
    draws = sampler.sample(torch.zeros(2000, dtype=torch.int64)).flatten().numpy()
    expected = COUNTS**alpha / (COUNTS**alpha).sum()
    frequencies = np.bincount(draws, minlength=len(COUNTS)) / draws.size
    np.testing.assert_allclose(frequencies, expected, atol=0.003)
    drawable = expected > 0
    assert scipy.stats.chisquare(
        np.bincount(draws, minlength=len(COUNTS))[drawable], expected[drawable] * draws.size
    ).pvalue > 1e-4


def test_zero_count_items_are_never_drawn_and_log_q_is_exact():
    sampler = PopularitySampler(COUNTS, 50, seed=12)
    items, log_q = sampler.sample_with_log_prob(torch.arange(300))
    assert not (items == 0).any()
    expected = COUNTS**0.75 / (COUNTS**0.75).sum()
    np.testing.assert_allclose(log_q.numpy(), np.log(expected[items.numpy()]), rtol=1e-6)


def test_exclusion_renormalises_frequencies_and_log_q_per_user():
    matrix = sp.csr_matrix(np.array([[0, 0, 0, 0, 0, 0, 1, 1], [0, 0, 0, 1, 0, 1, 0, 0]], dtype=np.float32))
    sampler = PopularitySampler(COUNTS, 200, exclude=matrix, seed=13)
    users = torch.tensor([0, 1] * 200)
    items, log_q = sampler.sample_with_log_prob(users)
    weights = COUNTS**0.75
    for user, positives in enumerate(positives_of(matrix)):
        conditional = weights.copy()
        conditional[list(positives)] = 0.0
        conditional /= conditional.sum()
        values = items[user::2].flatten().numpy()
        assert not set(values.tolist()) & positives
        np.testing.assert_allclose(np.bincount(values, minlength=8) / values.size, conditional, atol=0.005)
        np.testing.assert_allclose(log_q[user::2].numpy(), np.log(conditional[values]).reshape(-1, 200), rtol=1e-5)


def test_counts_from_training_matrix_are_column_counts():
    matrix = random_interactions(40, 9, 0.3, seed=14)
    assert item_counts(matrix).tolist() == (matrix.toarray() > 0).sum(axis=0).tolist()
    sampler = PopularitySampler(matrix, 3, alpha=1.0, seed=0)
    expected = (matrix.toarray() > 0).sum(axis=0) / matrix.nnz
    np.testing.assert_allclose(sampler.log_prob(torch.arange(9)).exp().numpy(), expected, rtol=1e-6)


def test_shared_popularity_pool_without_replacement():
    sampler = PopularitySampler(COUNTS, 7, shared=True, replace=False, seed=15)
    pool, log_q = sampler.sample_with_log_prob(torch.arange(4))
    assert pool.shape == log_q.shape == (7,)
    assert sorted(pool.tolist()) == list(range(1, 8))


def test_popular_positives_force_the_exact_fallback():
    # item 7 holds ~2/3 of the mass; user 0 has it plus items 4..6: rejection alone rarely succeeds
    matrix = sp.csr_matrix(np.array([[0, 0, 0, 0, 1, 1, 1, 1]], dtype=np.float32))
    sampler = PopularitySampler(COUNTS, 30, exclude=matrix, seed=16)
    draws = sampler.sample(torch.zeros(200, dtype=torch.int64))
    assert set(draws.flatten().tolist()) <= {1, 2, 3}
    conditional = COUNTS[1:4] ** 0.75 / (COUNTS[1:4] ** 0.75).sum()
    np.testing.assert_allclose(np.bincount(draws.flatten().numpy(), minlength=4)[1:] / draws.numel(), conditional, atol=0.01)


@pytest.mark.parametrize(
    ("counts", "kwargs", "message"),
    [
        ([[1, 2]], {}, "1-D"),
        ([1, -1], {}, ">= 0"),
        ([1, float("nan")], {}, "finite"),
        ([0, 0], {}, "no item with a positive count"),
        ([1, 2], {"alpha": -0.5}, "alpha"),
        (["a"], {}, "1-D array of numbers"),
    ],
)
def test_bad_counts_raise(counts, kwargs, message):
    with pytest.raises(MarginRankError, match=message):
        PopularitySampler(counts, 2, **kwargs)


def test_user_whose_positives_cover_every_drawable_item_is_an_error():
    matrix = sp.csr_matrix(np.array([[0, 1, 1, 1, 1, 1, 1, 1]], dtype=np.float32))
    with pytest.raises(MarginRankError, match="user 0 has no item left"):
        PopularitySampler(COUNTS, 2, exclude=matrix).sample(torch.tensor([0]))


def test_log_prob_checks_the_indices_it_is_given():
    sampler = PopularitySampler(COUNTS, 4, seed=0)
    with pytest.raises(MarginRankError, match=r"items holds -1, outside \[0, 8\)"):
        sampler.log_prob(torch.tensor([-1]))  # would otherwise wrap to the last item
    with pytest.raises(MarginRankError, match=r"items holds 8, outside \[0, 8\)"):
        sampler.log_prob(torch.tensor([8]))


def test_numpy_seeds_and_empty_batches_are_accepted():
    sampler = PopularitySampler(COUNTS, 3, seed=np.int64(5))
    again = PopularitySampler(COUNTS, 3, seed=5)
    assert torch.equal(sampler.sample(torch.arange(4)), again.sample(torch.arange(4)))
    assert sampler.sample([]).shape == (0, 3)
