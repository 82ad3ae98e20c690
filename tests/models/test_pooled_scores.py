"""PooledItemScores against plain autograd over gathered, normalized rows (the definition)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from marginrank.models import pooled_scores
from marginrank.models.pooled_scores import SPARSE_BELOW, PooledItemScores, product_dtype

N_ITEMS, DIM, BATCH, N = 13, 5, 7, 6


def reference(user, table, positives, pools, normalize):
    """Scores written the obvious way: gather, normalize, one score per (row, negative)."""
    f = (lambda x: F.normalize(x, dim=-1)) if normalize else (lambda x: x)
    pos = (user * f(table[positives])).sum(-1)
    if pools.dim() == 1:
        per_row = pools.expand(len(user), -1)
    else:
        size = -(-len(user) // pools.shape[0])
        per_row = pools[torch.arange(len(user)) // size]
    neg = (user.unsqueeze(1) * f(table[per_row])).sum(-1)
    return pos, neg


def pools_of(kind: str, generator: torch.Generator) -> torch.Tensor:
    shape = {"shared": (N,), "grouped": (3, N), "per_example": (BATCH, N)}[kind]
    return torch.randint(N_ITEMS, shape, generator=generator)  # 13 items: repeats are certain


def grads(scores_fn, user, table, weights):
    user, table = user.clone().requires_grad_(), table.clone().requires_grad_()
    pos, neg = scores_fn(user, table)
    (weights[0] * pos).sum().add((weights[1] * neg).sum()).backward()
    return pos.detach(), neg.detach(), user.grad, table.grad.to_dense()


@pytest.mark.parametrize("kind", ["shared", "grouped", "per_example"])
@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("density", ["dense", "sparse"])
@pytest.mark.parametrize("sparse_table", [False, True], ids=["whole-table", "rows-used"])
def test_scores_and_gradients_match_autograd(kind: str, normalize: bool, density: str, sparse_table: bool) -> None:
    generator = torch.Generator().manual_seed(hash((kind, normalize, density)) % 2**31)
    user = torch.randn(BATCH, DIM, dtype=torch.float64, generator=generator)
    table = torch.randn(N_ITEMS, DIM, dtype=torch.float64, generator=generator)
    table[3] = 0.0  # a zero row: normalization divides by eps there
    positives = torch.randint(N_ITEMS, (BATCH,), generator=generator)
    pools = pools_of(kind, generator)
    pos_weight = torch.randn(BATCH, dtype=torch.float64, generator=generator)
    neg_weight = torch.randn(BATCH, N, dtype=torch.float64, generator=generator)
    if density == "sparse":  # two nonzero score gradients: below the sparse threshold
        assert 2 <= SPARSE_BELOW * BATCH * N
        neg_weight = torch.zeros_like(neg_weight)
        neg_weight[1, 2], neg_weight[5, 4] = 0.7, -1.3
    expected = grads(lambda u, t: reference(u, t, positives, pools, normalize), user, table, (pos_weight, neg_weight))
    actual = grads(
        lambda u, t: PooledItemScores.apply(u, t, positives, pools, normalize, sparse_table), user, table, (pos_weight, neg_weight)
    )
    for got, want in zip(actual, expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["shared", "grouped", "per_example"])
def test_sparse_table_gradient_equals_dense(kind: str) -> None:
    generator = torch.Generator().manual_seed(1)
    user = torch.randn(BATCH, DIM, dtype=torch.float64, generator=generator)
    table = torch.randn(N_ITEMS, DIM, dtype=torch.float64, generator=generator, requires_grad=True)
    positives = torch.randint(N_ITEMS, (BATCH,), generator=generator)
    pools = pools_of(kind, generator)
    pos, neg = PooledItemScores.apply(user, table, positives, pools, True, True)
    (pos.sum() + F.relu(neg - 0.3).sum()).backward()
    assert table.grad.is_sparse
    dense_table = table.detach().clone().requires_grad_()
    pos, neg = PooledItemScores.apply(user, dense_table, positives, pools, True, False)
    (pos.sum() + F.relu(neg - 0.3).sum()).backward()
    torch.testing.assert_close(table.grad.to_dense(), dense_table.grad, rtol=1e-12, atol=1e-12)


def test_gradcheck() -> None:
    generator = torch.Generator().manual_seed(2)
    user = torch.randn(BATCH, DIM, dtype=torch.float64, generator=generator, requires_grad=True)
    table = torch.randn(N_ITEMS, DIM, dtype=torch.float64, generator=generator, requires_grad=True)
    positives = torch.randint(N_ITEMS, (BATCH,), generator=generator)
    pools = pools_of("grouped", generator)
    assert torch.autograd.gradcheck(lambda u, t: PooledItemScores.apply(u, t, positives, pools, True), (user, table))


@pytest.mark.parametrize("groups", [1, 4, 64])
def test_sparse_backward_sums_entries_that_share_a_pooled_row(groups: int) -> None:
    """5% active entries, several rows per pooled item: the sparse path must equal autograd."""
    generator = torch.Generator().manual_seed(groups)
    batch, negatives = 64, 50
    user = torch.randn(batch, DIM, dtype=torch.float64, generator=generator)
    table = torch.randn(N_ITEMS, DIM, dtype=torch.float64, generator=generator)
    positives = torch.randint(N_ITEMS, (batch,), generator=generator)
    pools = torch.randint(N_ITEMS, (negatives,) if groups == 1 else (groups, negatives), generator=generator)
    active = torch.rand(batch, negatives, generator=generator) < 0.05
    assert 0 < active.sum() <= SPARSE_BELOW * active.numel()
    pos_weight = torch.randn(batch, dtype=torch.float64, generator=generator)
    neg_weight = torch.randn(batch, negatives, dtype=torch.float64, generator=generator) * active
    expected = grads(lambda u, t: reference(u, t, positives, pools, True), user, table, (pos_weight, neg_weight))
    actual = grads(lambda u, t: PooledItemScores.apply(u, t, positives, pools, True), user, table, (pos_weight, neg_weight))
    for got, want in zip(actual, expected):
        torch.testing.assert_close(got, want, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("kind", ["shared", "grouped", "per_example"])
@pytest.mark.parametrize("active_fraction", [0.05, 0.5])
def test_sparse_coo_score_gradient_equals_dense(kind: str, active_fraction: float) -> None:
    """The score gradient may arrive as a sparse COO tensor (from a margin loss): same result, whether
    it takes the sparse path (few entries) or is densified (many)."""
    generator = torch.Generator().manual_seed(3)
    batch, negatives = BATCH * 4, N * 5
    user = torch.randn(batch, DIM, dtype=torch.float64, generator=generator)
    table = torch.randn(N_ITEMS, DIM, dtype=torch.float64, generator=generator)
    positives = torch.randint(N_ITEMS, (batch,), generator=generator)
    shape = {"shared": (negatives,), "grouped": (3, negatives), "per_example": (batch, negatives)}[kind]
    pools = torch.randint(N_ITEMS, shape, generator=generator)
    active = torch.rand(batch, negatives, generator=generator) < active_fraction
    neg_weight = torch.randn(batch, negatives, dtype=torch.float64, generator=generator) * active
    pos_weight = torch.randn(batch, dtype=torch.float64, generator=generator)
    results = []
    for weight in (neg_weight, neg_weight.to_sparse()):
        u, t = user.clone().requires_grad_(), table.clone().requires_grad_()
        pos, neg = PooledItemScores.apply(u, t, positives, pools, True)
        torch.autograd.backward([pos, neg], [pos_weight, weight])
        results.append((u.grad, t.grad))
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("pools_shape", [(40,), (4, 40), (64, 40)])
def test_mf_with_a_margin_loss_gets_the_same_gradient_through_the_sparse_handoff(pools_shape) -> None:
    from marginrank.losses import MMCL
    from marginrank.losses.base import takes_sparse_score_grad
    from marginrank.models import MF

    torch.manual_seed(0)
    model = MF(50, 300, 8, init_std=1.0).double()
    users, items = torch.randint(50, (64,)), torch.randint(300, (64,))
    pools = torch.randint(300, pools_shape)
    loss = MMCL(margins=[0.75, 0.85], weights=[0.5, 0.5], neg_weight=10.0)
    results = []
    for handoff in (True, False):
        model.zero_grad()
        pos, neg = model(users, items, pools)
        assert takes_sparse_score_grad(neg)
        value = loss(pos, neg if handoff else neg * 1.0)
        value.backward()
        results.append((value.detach(), model.user_embedding.weight.grad.clone(), model.item_embedding.weight.grad.clone()))
    assert results[0][2].abs().sum() > 0
    for got, want in zip(*results):
        torch.testing.assert_close(got, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("kind", ["shared", "grouped"])
def test_bfloat16_products_give_scores_and_gradients_within_its_rounding(kind: str) -> None:
    generator = torch.Generator().manual_seed(7)
    user = torch.randn(BATCH, DIM, generator=generator)
    table = torch.randn(N_ITEMS, DIM, generator=generator)
    positives, pools = torch.randint(N_ITEMS, (BATCH,), generator=generator), pools_of(kind, generator)
    weights = (torch.randn(BATCH, generator=generator), torch.randn(BATCH, N, generator=generator))
    expected = grads(lambda u, t: reference(u, t, positives, pools, True), user, table, weights)
    actual = grads(lambda u, t: PooledItemScores.apply(u, t, positives, pools, True, False, torch.bfloat16), user, table, weights)
    assert all(got.dtype == torch.float32 for got in actual)
    for got, want in zip(actual, expected):
        scale = want.abs().max()
        assert (got - want).abs().max() <= 2**-7 * scale  # 8 significant bits, a few summands
        assert (got - want).abs().max() > 0  # the products did run in bfloat16


def test_per_example_negatives_keep_float32_products() -> None:
    generator = torch.Generator().manual_seed(8)
    user, table = torch.randn(BATCH, DIM, generator=generator), torch.randn(N_ITEMS, DIM, generator=generator)
    positives, pools = torch.randint(N_ITEMS, (BATCH,), generator=generator), pools_of("per_example", generator)
    weights = (torch.randn(BATCH, generator=generator), torch.randn(BATCH, N, generator=generator))
    full = grads(lambda u, t: PooledItemScores.apply(u, t, positives, pools, True, False), user, table, weights)
    half = grads(lambda u, t: PooledItemScores.apply(u, t, positives, pools, True, False, torch.bfloat16), user, table, weights)
    for got, want in zip(half, full):
        assert torch.equal(got, want)


@pytest.mark.parametrize("native", [True, False])
def test_auto_precision_is_bfloat16_only_where_the_cpu_multiplies_it_natively(monkeypatch, native: bool) -> None:
    monkeypatch.setattr(pooled_scores, "cpu_multiplies_bfloat16", lambda: native)
    assert product_dtype("auto", torch.device("cpu")) == (torch.bfloat16 if native else None)
    assert product_dtype("float32", torch.device("cpu")) is None
    assert product_dtype("bfloat16", torch.device("cpu")) == torch.bfloat16
    assert product_dtype("auto", torch.device("meta")) is None
