import pytest
import scipy.sparse as sp
import torch

from marginrank.errors import MarginRankError
from marginrank.models import MF
from marginrank.sampling import PopularitySampler, UniformSampler


@pytest.mark.parametrize(("batch", "group_size"), [(10, 4), (9, 4), (8, 8), (7, 1), (12, 5)])
def test_grouped_pools_score_like_per_example_negatives(batch, group_size):
    torch.manual_seed(0)
    model = MF(20, 40, 8).eval()
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
