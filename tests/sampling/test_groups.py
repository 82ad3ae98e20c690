import pytest
import scipy.sparse as sp
import torch

from marginrank.errors import MarginRankError
from marginrank.models import MF
from marginrank.sampling import PopularitySampler, UniformSampler
from marginrank.sampling.layout import per_row


@pytest.mark.parametrize(("batch", "group_size"), [(10, 4), (9, 4), (8, 8), (7, 1), (12, 5)])
def test_grouped_pools_score_like_per_example_negatives(batch, group_size):
    torch.manual_seed(0)
    model = MF(20, 40, 8, score_precision="float32").eval()
    sampler = UniformSampler(40, 6, shared=True, group_size=group_size, seed=1)
    users, items = torch.arange(batch), torch.arange(batch)
    pools = sampler.sample(users)
    assert pools.shape == (-(-batch // group_size), 6)
    per_row = pools[torch.arange(batch) // -(-batch // pools.shape[0])]
    grouped_pos, grouped_neg = model(users, items, pools)
    plain_pos, plain_neg = model(users, items, per_row)
    torch.testing.assert_close(grouped_neg, plain_neg)
    torch.testing.assert_close(grouped_pos, plain_pos)


def test_grouped_collision_mask_uses_each_rows_pool():
    seen = sp.csr_matrix(torch.eye(6, dtype=torch.float32).numpy())  # user u likes item u
    sampler = PopularitySampler([1.0] * 6, 3, shared=True, group_size=2, exclude=seen, seed=0)
    users = torch.arange(6)
    pools = torch.tensor([[0, 1, 5], [2, 2, 4], [4, 5, 0]])
    mask = sampler.collision_mask(users, pools)
    expected = torch.tensor([[1, 0, 0], [0, 1, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0], [0, 1, 0]], dtype=torch.bool)
    assert torch.equal(mask, expected)


def test_group_size_needs_shared():
    with pytest.raises(MarginRankError, match="shared negatives only"):
        UniformSampler(10, 3, group_size=2)


def test_collision_mask_names_the_accepted_shapes_for_a_wrong_one():
    seen = sp.csr_matrix(torch.eye(6, dtype=torch.float32).numpy())
    sampler = UniformSampler(6, 3, shared=True, group_size=2, exclude=seen, seed=0)
    with pytest.raises(MarginRankError, match=r"grouped pools \[G, N\] or \[4, N\], got shape \(5, 3\)"):
        sampler.collision_mask(torch.arange(4), torch.zeros(5, 3, dtype=torch.int64))


@pytest.mark.parametrize(("batch", "group_size"), [(10, 4), (9, 4), (7, 1), (12, 12)])
def test_per_row_gives_each_row_the_log_q_of_its_own_pool(batch, group_size):
    sampler = PopularitySampler(torch.arange(1.0, 41.0).tolist(), 6, shared=True, group_size=group_size, seed=2)
    pools, log_q = sampler.sample_with_log_prob(torch.arange(batch))
    rows = per_row(log_q, batch)
    assert rows.shape == (batch, 6)
    expected = sampler.log_prob(pools[torch.arange(batch) // -(-batch // pools.shape[0])])
    torch.testing.assert_close(rows, expected)


def test_per_row_leaves_one_shared_pool_and_per_example_values_alone():
    shared, per_example = torch.randn(6), torch.randn(5, 6)
    assert per_row(shared, 5) is shared
    assert per_row(per_example, 5) is per_example
