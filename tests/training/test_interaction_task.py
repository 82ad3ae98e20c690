"""The interaction task: negatives drawn, mined or taken in batch, and handed to the loss as it expects."""

from __future__ import annotations

import pytest
import torch

from marginrank import Recommender, datasets
from marginrank.errors import MarginRankError, SettingError
from marginrank.metrics import evaluate_popularity
from marginrank.models import MF
from marginrank.sampling import HardNegativeMiner, InBatchNegatives, SemiHardMiner, UniformSampler, WarmupMiner
from marginrank.training import InteractionTask
from marginrank.training.seeds import EpochSeeds


# a planted ranker learns well within 8 epochs from these (softmax over grouped pools: 0.208 against
# popularity's 0.125 Recall@20 on the 1,000-user synthetic set)
FLOOR_SETTINGS = dict(loss="softmax", loss_params={"temperature": 0.1}, negatives=100, shared_negatives=True,
                      group_size=16, epochs=8, lr=3e-3, protocol="none", progress=False, seed=0)


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=300, n_items=150, mean_items_per_user=20)


@pytest.fixture(scope="module")
def model(data):
    torch.manual_seed(0)
    return MF(data.n_users, data.n_items, 16, init_std=0.1, score_precision="float32").eval()


def first_batch(task, epoch=1):
    task.begin_epoch(epoch, EpochSeeds(0, epoch))
    return next(task.batches())


@pytest.mark.parametrize("shared", [False, True])
def test_a_hard_miner_hands_the_loss_the_top_scored_candidates(data, model, shared):
    sampler = UniformSampler(data.n_items, 40, shared=shared, exclude=data.train.matrix, seed=0)
    task = InteractionTask(data.train, sampler, batch_size=64, miner=HardNegativeMiner(5))
    users, items = first_batch(task)
    scores = task.scores(model, (users, items), torch.device("cpu"))
    assert scores.neg.shape == (64, 5) and scores.mask.all()
    picked = scores.rows[2]
    all_scores = model.score_all(users)
    torch.testing.assert_close(scores.neg, all_scores.gather(1, picked))
    # the same candidates again (same seeds): the picked ones are the 5 best of them, none a known positive
    task.begin_epoch(1, EpochSeeds(0, 1))
    drawn = sampler.draw(users, items)
    candidate_scores = all_scores.gather(1, drawn.items.expand(64, -1) if shared else drawn.items)
    if shared:
        candidate_scores = candidate_scores.masked_fill(~drawn.valid, -torch.inf)
    torch.testing.assert_close(scores.neg, candidate_scores.topk(5, dim=1).values)
    assert not data.train.matrix[users.numpy().copy()[:, None], picked.numpy().copy()].toarray().any()


def test_a_semi_hard_miner_keeps_to_the_band_and_masks_short_rows(data, model):
    sampler = UniformSampler(data.n_items, 40, exclude=data.train.matrix, seed=0)
    task = InteractionTask(data.train, sampler, batch_size=64, miner=SemiHardMiner(0.2, 4))
    scores = task.scores(model, first_batch(task), torch.device("cpu"))
    band = (scores.neg < scores.pos[:, None]) & (scores.neg > scores.pos[:, None] - 0.2)
    assert torch.equal(band | ~scores.mask, torch.ones_like(band)) and scores.mask.any()


def test_a_warmup_miner_draws_uniformly_first_then_mines(data, model):
    sampler = UniformSampler(data.n_items, 40, exclude=data.train.matrix, seed=0)
    task = InteractionTask(data.train, sampler, batch_size=64, miner=WarmupMiner(HardNegativeMiner(3), warmup_epochs=1))
    warm = task.scores(model, first_batch(task, epoch=1), torch.device("cpu"))
    hard = task.scores(model, first_batch(task, epoch=2), torch.device("cpu"))
    assert warm.neg.mean() < hard.neg.mean() - 0.05


def test_in_batch_negatives_are_the_other_rows_positives(data, model):
    task = InteractionTask(data.train, InBatchNegatives(data.train.matrix), batch_size=32)
    users, items = first_batch(task)
    scores = task.scores(model, (users, items), torch.device("cpu"))
    assert scores.neg.shape == (32, 32) and not scores.mask.diagonal().any()
    torch.testing.assert_close(scores.neg, model.score_all(users)[:, items])


def test_mined_negatives_take_no_log_q_correction(data):
    sampler = UniformSampler(data.n_items, 40, seed=0)
    with pytest.raises(MarginRankError, match="mined negatives have none"):
        InteractionTask(data.train, sampler, miner=HardNegativeMiner(3), log_q_correction=True)
    with pytest.raises(SettingError, match="mined and in-batch ones have no proposal"):
        Recommender(loss="softmax", miner="hard", log_q_correction=True)


@pytest.mark.parametrize(
    "settings",
    [
        {"miner": "hard", "miner_params": {"k": 10}},
        {"miner": "mixed", "miner_params": {"n_hard": 10, "n_uniform": 30}},
        {"miner": "semi-hard", "miner_params": {"margin": 0.3}},
        {"miner": "warmup", "shared_negatives": False, "group_size": None},
        {"sampler": "in-batch", "shared_negatives": False, "group_size": None, "batch_size": 256},
    ],
)
def test_mined_and_in_batch_training_beats_popularity(settings):
    data = datasets.load("synthetic", n_users=1000, n_items=500)
    rec = Recommender(**{**FLOOR_SETTINGS, **settings}).fit(data)
    popularity = evaluate_popularity(data.train.matrix, data.test.matrix)["recall@20"]
    assert rec.metrics_["recall@20"] > 1.3 * popularity


def test_unknown_miners_and_miner_parameters_are_setting_errors():
    with pytest.raises(SettingError, match="miner must be one of hard, mixed, semi-hard, warmup"):
        Recommender(miner="hardest")
    with pytest.raises(SettingError, match="miner 'hard' has no parameter margin; it accepts: k"):
        Recommender(miner="hard", miner_params={"margin": 1.0})
