import numpy as np
import pytest
import torch

from marginrank.sampling import MixedMiner, PopularitySampler, UniformSampler

from .helpers import random_interactions

MATRIX = random_interactions(20, 30, 0.4, seed=30)


def samplers(seed):
    return [
        UniformSampler(30, 8, exclude=MATRIX, seed=seed),
        UniformSampler(30, 8, shared=True, replace=False, seed=seed),
        PopularitySampler(MATRIX, 8, exclude=MATRIX, replace=False, seed=seed),
    ]


@pytest.mark.parametrize("index", range(3))
def test_same_seed_same_negatives_and_epochs_resample(index):
    users = torch.arange(20)
    first, second = samplers(5)[index], samplers(5)[index]
    epoch_one = first.sample(users)
    assert torch.equal(epoch_one, second.sample(users))
    assert not torch.equal(epoch_one, first.sample(users))
    assert not torch.equal(epoch_one, samplers(6)[index].sample(users))


@pytest.mark.parametrize("index", range(3))
def test_state_dict_resumes_identical_negatives(index):
    users = torch.arange(20)
    sampler = samplers(7)[index]
    sampler.sample(users)
    state = sampler.state_dict()
    expected = [sampler.sample(users) for _ in range(3)]
    resumed = samplers(99)[index]
    resumed.load_state_dict(state)
    assert all(torch.equal(a, resumed.sample(users)) for a in expected)


def test_miner_state_dict_resumes():
    scores = torch.from_numpy(np.random.default_rng(0).random((4, 10)))
    miner = MixedMiner(2, 3, seed=1)
    state = miner.state_dict()
    first = miner(scores)
    other = MixedMiner(2, 3, seed=2)
    other.load_state_dict(state)
    assert all(torch.equal(a, b) for a, b in zip(first, other(scores)))
