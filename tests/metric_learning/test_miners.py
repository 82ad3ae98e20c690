"""Label miners against brute-force loops over the batch; the class-balanced sampler."""

from __future__ import annotations

import math

import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.sampling.class_balanced import ClassBalancedBatches
from marginrank.sampling.label_miners import BatchAllMiner, BatchHardMiner, DistanceWeightedMiner, PerPairMiner, get
from marginrank.sampling.miners import HardNegativeMiner, SemiHardMiner, WarmupMiner


def batch(seed: int, classes: int = 4, per_class: int = 3, width: int = 6):
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(classes).repeat_interleave(per_class)[torch.randperm(classes * per_class, generator=generator)]
    embeddings = torch.randn(len(labels), width, generator=generator, dtype=torch.float64)
    scores = -torch.cdist(embeddings, embeddings)
    return scores, labels, embeddings


def triplets_of(picks) -> set[tuple[int, int, int]]:
    return set(map(tuple, torch.stack(picks.triplets()).T.tolist()))


def brute_force(labels, keep) -> set[tuple[int, int, int]]:
    n = len(labels)
    return {(a, p, q) for a in range(n) for p in range(n) for q in range(n)
            if a != p and labels[a] == labels[p] and labels[q] != labels[a] and keep(a, p, q)}


@pytest.mark.parametrize("seed", range(3))
def test_batch_all_and_its_margin_filter(seed: int) -> None:
    scores, labels, embeddings = batch(seed)
    assert triplets_of(BatchAllMiner()(scores, labels, embeddings)) == brute_force(labels, lambda a, p, q: True)
    violating = brute_force(labels, lambda a, p, q: float(scores[a, p] - scores[a, q]) <= 0.5)
    assert triplets_of(BatchAllMiner(0.5)(scores, labels, embeddings)) == violating


@pytest.mark.parametrize("seed", range(3))
def test_batch_hard_takes_each_anchors_farthest_positive_and_nearest_negative(seed: int) -> None:
    scores, labels, embeddings = batch(seed)
    expected = set()
    for a in range(len(labels)):
        positives = [p for p in range(len(labels)) if p != a and labels[p] == labels[a]]
        negatives = [q for q in range(len(labels)) if labels[q] != labels[a]]
        expected.add((a, min(positives, key=lambda p: float(scores[a, p])), max(negatives, key=lambda q: float(scores[a, q]))))
    picks = BatchHardMiner()(scores, labels, embeddings)
    assert triplets_of(picks) == expected and len(picks.anchor) == len(labels)


@pytest.mark.parametrize("seed", range(3))
def test_semi_hard_per_pair_is_the_band(seed: int) -> None:
    scores, labels, embeddings = batch(seed)
    band = brute_force(labels, lambda a, p, q: 0 < float(scores[a, p] - scores[a, q]) < 0.4)
    assert triplets_of(PerPairMiner(SemiHardMiner(0.4))(scores, labels, embeddings)) == band


def test_hardest_per_pair_and_its_warm_up() -> None:
    scores, labels, embeddings = batch(0)
    hardest = brute_force(labels, lambda a, p, q: q == max((n for n in range(len(labels)) if labels[n] != labels[a]),
                                                         key=lambda n: float(scores[a, n])))
    assert triplets_of(PerPairMiner(HardNegativeMiner(1))(scores, labels, embeddings)) == hardest
    warm = PerPairMiner(WarmupMiner(HardNegativeMiner(1), warmup_epochs=1, seed=0))
    warm.set_epoch(0)
    uniform = warm(scores, labels, embeddings)
    assert uniform.negatives.sum(dim=1).eq(1).all() and triplets_of(uniform) <= brute_force(labels, lambda a, p, q: True)
    assert triplets_of(uniform) != hardest
    warm.set_epoch(1)
    assert triplets_of(warm(scores, labels, embeddings)) == hardest


def test_distance_weighted_probabilities_are_the_papers_and_draws_stay_eligible() -> None:
    scores, labels, embeddings = batch(1, width=8)
    miner = DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4, seed=0)
    probabilities = miner.probabilities(embeddings, labels)
    unit = embeddings / embeddings.norm(dim=1, keepdim=True)
    n = unit.shape[1]
    for a in range(len(labels)):
        weights = []
        for q in range(len(labels)):
            d = max(float((unit[a] - unit[q]).norm()), 0.5)
            eligible = labels[q] != labels[a] and d < 1.4
            weights.append(d ** (2 - n) * (1 - d * d / 4) ** (-(n - 3) / 2) if eligible else 0.0)
        total = sum(weights)
        expected = torch.tensor([w / total if total else 0.0 for w in weights], dtype=torch.float64)
        torch.testing.assert_close(probabilities[a], expected, rtol=1e-9, atol=1e-12)
    picks = miner(scores, labels, embeddings)
    for a, p, q in triplets_of(picks):
        assert labels[a] == labels[p] and a != p and probabilities[a, q] > 0


def test_class_balanced_batches_hold_m_of_p_classes_and_follow_the_generator() -> None:
    labels = torch.arange(5).repeat_interleave(torch.tensor([6, 4, 9, 5, 7]))
    draws = [list(ClassBalancedBatches(labels, 3, 4, torch.Generator().manual_seed(7), batches=5)) for _ in range(2)]
    assert all(torch.equal(x, y) for x, y in zip(*draws))
    for indices in draws[0]:
        classes, counts = labels[indices].unique(return_counts=True)
        assert len(classes) == 3 and counts.eq(4).all() and len(indices.unique()) == 12
    with pytest.raises(MarginRankError, match="at least samples_per_class = 5"):
        ClassBalancedBatches(labels, 3, 5, torch.Generator())


def test_miner_registry() -> None:
    assert isinstance(get("semi-hard", margin=0.1), PerPairMiner)
    with pytest.raises(MarginRankError, match="unknown label miner"):
        get("hardest-ever")
    with pytest.raises(MarginRankError, match="no parameter"):
        get("batch-hard", margin=math.pi)
