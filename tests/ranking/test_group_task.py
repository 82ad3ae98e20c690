"""The group task against a loop re-statement: which rows are positives, their negatives, their weights."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from marginrank.data.groups import RankingGroups
from marginrank.errors import MarginRankError
from marginrank.losses import PairwiseHinge, SampledSoftmax, Weighted
from marginrank.sampling.miners import HardNegativeMiner
from marginrank.training.seeds import EpochSeeds
from marginrank.training.tasks.groups import GroupTask, row_weights

LABELS = [2, 0, 1, 1, 0, 3, 0, 0]
SIZES = [4, 1, 3]  # the middle group has one row: no pair


class FirstFeature(torch.nn.Module):
    def forward(self, x):
        return x[..., 0]


def data():
    features = np.stack([np.arange(8.0), np.ones(8)], axis=1)
    return RankingGroups.from_arrays(features, LABELS, SIZES)


def expected_pairs(groups):
    """(group, positive score, sorted negative scores) by plain loops; the score of row r is r."""
    offsets = np.concatenate([[0], np.cumsum(SIZES)])
    out = []
    for g_pos, g in enumerate(groups):
        rows = range(offsets[g], offsets[g + 1])
        for i in rows:
            lower = sorted(float(j) for j in rows if LABELS[j] < LABELS[i])
            if lower:
                out.append((g_pos, float(i), lower))
    return out


def test_positives_and_their_lower_labelled_negatives_match_a_loop():
    task = GroupTask(data())
    batch = np.array([2, 0])
    scores = task.scores(FirstFeature(), batch, torch.device("cpu"))
    got = [
        (int(g), float(p), sorted(float(n) for n, m in zip(neg, mask) if m))
        for g, p, neg, mask in zip(scores.extras["pos_groups"], scores.pos, scores.neg, scores.mask)
    ]
    assert sorted(got) == sorted(expected_pairs(batch))


def test_an_epoch_visits_every_group_with_a_pair_once():
    task = GroupTask(data(), groups_per_batch=1)
    task.begin_epoch(1, EpochSeeds(0, 1))
    assert sorted(int(g) for batch in task.batches() for g in batch) == [0, 2]
    assert len(task) == 2


def test_ndcg_weights_are_each_rows_share_of_the_ideal_dcg():
    labels = torch.tensor([[2.0, 0.0, 1.0, 1.0], [3.0, 0.0, -1.0, -1.0]])
    weights = row_weights(labels, "ndcg")
    ideal = 3 + 1 / math.log2(3) + 1 / math.log2(4)
    # rows labelled 1 have one row above them: discount 1 / log2(3)
    assert weights[0].tolist() == pytest.approx([3 / ideal, 0.0, 1 / math.log2(3) / ideal, 1 / math.log2(3) / ideal])
    assert weights[1, 0].item() == pytest.approx(1.0)
    assert row_weights(labels, "gain")[0].tolist() == [3.0, 0.0, 1.0, 1.0]


def test_weighted_loss_is_the_weighted_mean_of_the_base_loss():
    pos = torch.tensor([1.0, 0.0, 2.0])
    neg = torch.tensor([[0.5, 3.0], [1.0, -1.0], [0.0, 0.0]])
    weight = torch.tensor([1.0, 3.0, 0.0])
    base = PairwiseHinge(margin=1.0, reduction="none")(pos, neg)
    assert Weighted(PairwiseHinge(margin=1.0))(pos, neg, example_weight=weight).item() == pytest.approx(
        float((weight * base).sum() / weight.sum()))
    with pytest.raises(MarginRankError, match="weights >= 0"):
        Weighted(SampledSoftmax())(pos, neg, example_weight=-weight)


def test_standardized_scores_are_z_scores_per_group():
    task = GroupTask(data(), standardize_scores=True)
    scores = task.scores(FirstFeature(), np.array([0]), torch.device("cpu"))
    z = (np.arange(4.0) - 1.5) / np.arange(4.0).std()
    assert sorted(scores.pos.tolist()) == pytest.approx(sorted(z[[0, 2, 3]]))


def test_a_miner_keeps_the_hardest_lower_labelled_row():
    task = GroupTask(data(), miner=HardNegativeMiner(1))
    scores = task.scores(FirstFeature(), np.array([0]), torch.device("cpu"))
    hardest = {p: max(n) for _, p, n in expected_pairs([0])}
    assert {float(p): float(n[0]) for p, n in zip(scores.pos, scores.neg)} == hardest


def test_data_without_a_pair_is_refused():
    flat = RankingGroups.from_arrays(np.zeros((3, 1)), [1, 1, 0], [2, 1])
    with pytest.raises(MarginRankError, match="no group has two different labels"):
        GroupTask(flat)
