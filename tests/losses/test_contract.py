"""The contract every registered score loss keeps (parametrized over the registry)."""

from __future__ import annotations

import math

import pytest
import torch

from marginrank.losses import available, get

from ._reference import grads, random_batch

NAMES = available()


@pytest.mark.parametrize("name", NAMES)
def test_reductions_are_consistent(name: str) -> None:
    pos, neg, mask = random_batch(1)
    per = get(name, reduction="none")(pos, neg, mask)
    assert per.shape == pos.shape
    torch.testing.assert_close(get(name, reduction="mean")(pos, neg, mask), per.mean())
    torch.testing.assert_close(get(name, reduction="sum")(pos, neg, mask), per.sum())
    torch.testing.assert_close(get(name)(pos, neg, mask), per.mean())  # default is "mean"


@pytest.mark.parametrize("name", NAMES)
def test_all_masked_is_finite_with_finite_gradient(name: str) -> None:
    pos, neg, _ = random_batch(2)
    mask = torch.zeros_like(neg, dtype=torch.bool)
    value, g_pos, g_neg = grads(get(name, reduction="none"), pos, neg, mask)
    assert torch.isfinite(value).all() and torch.isfinite(g_pos).all()
    assert torch.equal(g_neg, torch.zeros_like(g_neg))


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("poison", [math.inf, -math.inf, math.nan, 1e30])
def test_masked_negatives_are_exactly_excluded(name: str, poison: float) -> None:
    pos, neg, mask = random_batch(3)
    loss = get(name, reduction="none")
    clean = loss(pos, neg, mask)
    poisoned = torch.where(mask, neg, torch.full_like(neg, poison))
    value, g_pos, g_neg = grads(loss, pos, poisoned, mask)
    torch.testing.assert_close(value, clean, rtol=0, atol=0)
    assert torch.isfinite(g_pos).all() and torch.isfinite(g_neg).all()
    assert torch.equal(g_neg[~mask], torch.zeros_like(g_neg[~mask]))


@pytest.mark.parametrize("name", NAMES)
def test_an_unmasked_nan_score_shows_in_its_row(name: str) -> None:
    """A diverging model must not look healthy: margin losses that keep only the negatives above a
    margin must keep a NaN one too, not drop it as 'not above'."""
    pos, neg, _ = random_batch(4)
    neg = neg.clone()
    neg[1, 0] = math.nan
    value = get(name, reduction="none")(pos, neg)
    assert torch.isnan(value[1]) and torch.isfinite(value[torch.arange(len(value)) != 1]).all()


@pytest.mark.parametrize("name", NAMES)
def test_masking_equals_dropping_the_negative(name: str) -> None:
    pos, neg, _ = random_batch(4, n_neg=6)
    mask = torch.ones_like(neg, dtype=torch.bool)
    mask[:, 2] = False
    loss = get(name, reduction="none")
    kept = torch.cat([neg[:, :2], neg[:, 3:]], dim=1)
    torch.testing.assert_close(loss(pos, neg, mask), loss(pos, kept))


@pytest.mark.parametrize("name", NAMES)
def test_invariant_to_permuting_negatives(name: str) -> None:
    pos, neg, mask = random_batch(5)
    perm = torch.randperm(neg.shape[1], generator=torch.Generator().manual_seed(0))
    loss = get(name, reduction="none")
    torch.testing.assert_close(loss(pos, neg[:, perm], mask[:, perm]), loss(pos, neg, mask))
    torch.testing.assert_close(loss(pos, neg[:, perm]), loss(pos, neg))


@pytest.mark.parametrize("name", NAMES)
def test_float32_agrees_with_float64(name: str) -> None:
    pos, neg, mask = random_batch(6)
    loss = get(name, reduction="none")
    single = loss(pos.float(), neg.float(), mask)
    assert single.dtype == torch.float32
    torch.testing.assert_close(single.double(), loss(pos, neg, mask), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name", NAMES)
def test_single_negative_and_large_pool(name: str) -> None:
    pos, neg, _ = random_batch(7, n_neg=1)
    assert torch.isfinite(get(name, reduction="none")(pos, neg)).all()
    big = torch.rand(4, 200_000, dtype=torch.float32) * 2 - 1
    value, g_pos, g_neg = grads(get(name, reduction="none"), torch.rand(4), big)
    assert torch.isfinite(value).all() and torch.isfinite(g_pos).all() and torch.isfinite(g_neg).all()


@pytest.mark.parametrize("name", NAMES)
def test_rows_are_independent(name: str) -> None:
    """Each row's loss depends only on that row's scores (shared pools use the same call)."""
    pos, neg, mask = random_batch(8)
    loss = get(name, reduction="none")
    full = loss(pos, neg, mask)
    for row in (0, 3):
        torch.testing.assert_close(loss(pos[row : row + 1], neg[row : row + 1], mask[row : row + 1]), full[row : row + 1])


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("name", NAMES)
def test_gpu_matches_cpu(name: str) -> None:
    pos, neg, mask = random_batch(9)
    loss = get(name, reduction="none")
    cpu_value, cpu_g_pos, cpu_g_neg = grads(loss, pos, neg, mask)
    gpu_value, gpu_g_pos, gpu_g_neg = grads(loss.cuda(), pos.cuda(), neg.cuda(), mask.cuda())
    for cpu, gpu in ((cpu_value, gpu_value), (cpu_g_pos, gpu_g_pos), (cpu_g_neg, gpu_g_neg)):
        torch.testing.assert_close(gpu.cpu(), cpu)


@pytest.mark.parametrize("name", available())
def test_declared_keywords_are_those_forward_takes(name: str) -> None:
    import inspect

    loss = get(name)
    taken = set(inspect.signature(loss.forward).parameters) - {"pos_scores", "neg_scores", "neg_mask"}
    assert loss.keywords == taken and all(loss.takes(keyword) for keyword in taken) and not loss.takes("other")
