"""The label losses against independent loop re-statements of their formulas."""

from __future__ import annotations

import math

import pytest
import torch

from marginrank.losses import Contrastive, MultiSimilarity, TripletMargin


def batch(seed: int, rows: int = 6, width: int = 5) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    pos = torch.rand(rows, generator=generator, dtype=torch.float64) * 2 - 1
    neg = torch.rand(rows, width, generator=generator, dtype=torch.float64) * 2 - 1
    mask = torch.rand(rows, width, generator=generator) > 0.3
    mask[0] = False  # a row with no valid negative
    return pos, neg, mask


def triplet_loop(pos, neg, mask, margin, nonzero):
    losses = [max(0.0, margin + float(neg[r, j]) - float(pos[r])) for r in range(len(pos)) for j in range(neg.shape[1]) if mask[r, j]]
    kept = [v for v in losses if v > 0] if nonzero else losses
    return sum(kept) / len(kept) if kept else 0.0


@pytest.mark.parametrize("nonzero", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_triplet_margin_is_its_loop(seed: int, nonzero: bool) -> None:
    pos, neg, mask = batch(seed)
    value = TripletMargin(margin=0.3, nonzero=nonzero)(pos, neg, mask)
    assert float(value) == pytest.approx(triplet_loop(pos, neg, mask, 0.3, nonzero), abs=1e-12)


def test_triplet_margin_with_no_active_triplet_is_zero_with_zero_gradient() -> None:
    pos = torch.tensor([1.0, 1.0], requires_grad=True)
    neg = torch.tensor([[-1.0, -1.0], [-1.0, math.nan]], requires_grad=True)
    value = TripletMargin(margin=0.1)(pos, neg, torch.tensor([[True, True], [True, False]]))
    value.backward()
    assert float(value) == 0.0 and torch.equal(pos.grad, torch.zeros(2)) and torch.equal(neg.grad, torch.zeros(2, 2))


@pytest.mark.parametrize("nonzero", [True, False])
@pytest.mark.parametrize("seed", range(3))
def test_contrastive_is_its_loop(seed: int, nonzero: bool) -> None:
    pos, neg, mask = batch(seed)
    pos_losses = [max(0.0, 0.6 - float(p)) for p in pos]
    neg_losses = [max(0.0, float(neg[r, j]) + 0.2) for r in range(len(pos)) for j in range(neg.shape[1]) if mask[r, j]]

    def average(values):
        kept = [v for v in values if v > 0] if nonzero else values
        return sum(kept) / len(kept) if kept else 0.0

    value = Contrastive(pos_margin=0.6, neg_margin=-0.2, nonzero=nonzero)(pos, neg, mask)
    assert float(value) == pytest.approx(average(pos_losses) + average(neg_losses), abs=1e-12)


def multi_similarity_loop(pos, neg, mask, groups, alpha, beta, base):
    total = []
    for group in sorted(set(groups.tolist())):
        rows = [r for r in range(len(pos)) if groups[r] == group]
        pos_term = math.log(1 + sum(math.exp(-alpha * (float(pos[r]) - base)) for r in rows)) / alpha
        neg_terms = [math.log(1 + sum(math.exp(beta * (float(neg[r, j]) - base)) for j in range(neg.shape[1]) if mask[r, j])) / beta
                     for r in rows]
        total.append(pos_term + sum(neg_terms) / len(rows))
    return sum(total) / len(total)


@pytest.mark.parametrize("seed", range(3))
def test_multi_similarity_is_its_loop(seed: int) -> None:
    pos, neg, mask = batch(seed)
    groups = torch.tensor([4, 4, 1, 7, 1, 4])
    value = MultiSimilarity(alpha=2.0, beta=10.0, base=0.3)(pos, neg, mask, pos_groups=groups)
    assert float(value) == pytest.approx(multi_similarity_loop(pos, neg, mask, groups, 2.0, 10.0, 0.3), abs=1e-12)
    alone = MultiSimilarity(alpha=2.0, beta=10.0, base=0.3)(pos, neg, mask)
    assert float(alone) == pytest.approx(multi_similarity_loop(pos, neg, mask, torch.arange(6), 2.0, 10.0, 0.3), abs=1e-12)


@pytest.mark.parametrize("loss", [TripletMargin(0.2), Contrastive(), MultiSimilarity()], ids=type)
@pytest.mark.parametrize("poison", [math.inf, -math.inf, math.nan])
def test_masked_negatives_are_exactly_excluded(loss, poison: float) -> None:
    pos, neg, mask = batch(5)
    clean = loss(pos, neg, mask)
    poisoned = torch.where(mask, neg, torch.full_like(neg, poison)).requires_grad_()
    value = loss(pos, poisoned, mask)
    value.backward()
    assert float(value) == float(clean)
    assert torch.isfinite(poisoned.grad).all() and torch.equal(poisoned.grad[~mask], torch.zeros_like(poisoned.grad[~mask]))


def test_multi_similarity_rejects_negative_groups() -> None:
    pos, neg, mask = batch(0)
    with pytest.raises(ValueError, match="non-negative"):
        MultiSimilarity()(pos, neg, mask, pos_groups=-torch.ones(6, dtype=torch.int64))


@pytest.mark.parametrize("seed", range(3))
def test_multi_similarity_per_anchor_equals_its_pairs(seed: int) -> None:
    """One row per anchor over the batch (pos_mask) gives the value and gradient of one row per anchor-positive pair."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 3])
    similarity = torch.randn(9, 9, generator=generator, dtype=torch.float64).tanh().requires_grad_()
    same = (labels[:, None] == labels[None, :]) & ~torch.eye(9, dtype=torch.bool)
    different = labels[:, None] != labels[None, :]
    loss = MultiSimilarity(alpha=2.0, beta=10.0, base=0.3)
    per_anchor = loss(similarity.diagonal(), similarity, different, pos_mask=same)
    (per_anchor_grad,) = torch.autograd.grad(per_anchor, similarity)
    anchor, positive = same.nonzero(as_tuple=True)
    pairs = loss(similarity[anchor, positive], similarity[anchor], different[anchor], pos_groups=anchor)
    (pairs_grad,) = torch.autograd.grad(pairs, similarity)
    assert float(per_anchor) == pytest.approx(float(pairs), abs=1e-12)
    torch.testing.assert_close(per_anchor_grad, pairs_grad, rtol=0, atol=1e-12)


def test_multi_similarity_takes_rows_as_pairs_or_as_anchors_not_both() -> None:
    pos, neg, mask = batch(0)
    with pytest.raises(ValueError, match="not both"):
        MultiSimilarity()(pos, neg, mask, pos_groups=torch.arange(6), pos_mask=~mask)
    with pytest.raises(ValueError, match="pos_mask must be a bool tensor"):
        MultiSimilarity()(pos, neg, mask, pos_mask=torch.ones(6, 2, dtype=torch.bool))
