"""PairBatches: every pair once per epoch ("pairs"), or a uniform user then one of its pairs ("users")."""

import numpy as np
import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.training.batches import PairBatches

# user 0 holds 12 pairs, user 1 one, user 2 none, user 3 three
USERS = np.array([0] * 12 + [1] + [3] * 3)
ITEMS = np.arange(len(USERS)) + 100


def one_epoch(batches: PairBatches) -> tuple[np.ndarray, np.ndarray]:
    drawn = list(batches)
    return torch.cat([u for u, _ in drawn]).numpy(), torch.cat([i for _, i in drawn]).numpy()


def test_pairs_covers_every_pair_once_per_epoch_in_a_new_order():
    batches = PairBatches(USERS, ITEMS, 5, torch.Generator().manual_seed(0))
    users, items = one_epoch(batches)
    assert len(batches) == 4 and sorted(items) == list(ITEMS)
    assert np.array_equal(USERS[items - 100], users)
    assert not np.array_equal(one_epoch(batches)[1], items)


def test_users_draws_each_user_alike_and_each_of_its_pairs_alike():
    batches = PairBatches(USERS, ITEMS, 7, torch.Generator().manual_seed(0), positive_sampling="users")
    assert len(batches) == 3
    users, items = [], []
    for _ in range(3000):
        epoch_users, epoch_items = one_epoch(batches)
        assert len(epoch_users) == len(USERS)
        users.append(epoch_users)
        items.append(epoch_items)
    users, items = np.concatenate(users), np.concatenate(items)
    assert np.array_equal(USERS[items - 100], users)  # every draw is a real training pair
    draws = len(users)  # 48,000: a share's standard error is about 0.002
    share = np.bincount(users, minlength=4) / draws
    assert share[2] == 0 and np.allclose(share[[0, 1, 3]], 1 / 3, atol=0.01)
    of_user_0 = np.bincount(items[users == 0] - 100, minlength=12) / np.sum(users == 0)
    assert np.allclose(of_user_0, 1 / 12, atol=0.01)


def test_users_draws_repeat_with_the_seed():
    def draws(seed: int) -> np.ndarray:
        return one_epoch(PairBatches(USERS, ITEMS, 4, torch.Generator().manual_seed(seed), positive_sampling="users"))[1]

    assert np.array_equal(draws(3), draws(3)) and not np.array_equal(draws(3), draws(4))


def test_ranks_split_the_same_users_draws():
    shares = [
        one_epoch(PairBatches(USERS, ITEMS, 8, torch.Generator().manual_seed(1), positive_sampling="users", rank=r, world_size=2))[1]
        for r in (0, 1)
    ]
    whole = one_epoch(PairBatches(USERS, ITEMS, 8, torch.Generator().manual_seed(1), positive_sampling="users"))[1]
    assert np.array_equal(np.concatenate([shares[0][:4], shares[1][:4], shares[0][4:], shares[1][4:]]), whole)


def test_an_unknown_positive_sampling_is_a_clear_error():
    with pytest.raises(MarginRankError, match="positive_sampling must be one of pairs, users; got 'user'"):
        PairBatches(USERS, ITEMS, 4, torch.Generator(), positive_sampling="user")
