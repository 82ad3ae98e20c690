"""NormalizedLookup and the hand-written normalization backward against plain autograd."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from marginrank.models.normalization import NormalizedLookup


@pytest.mark.parametrize("normalize", [True, False])
@pytest.mark.parametrize("sparse", [False, True])
def test_lookup_and_table_gradient_match_autograd(normalize: bool, sparse: bool) -> None:
    generator = torch.Generator().manual_seed(4)
    table = torch.randn(9, 6, dtype=torch.float64, generator=generator)
    table[2] = 0.0  # a zero row: divided by eps, its gradient is g / eps
    table[5] *= 1e-14  # shorter than eps
    ids = torch.tensor([2, 5, 0, 0, 7, 2, 8])  # repeats are summed
    upstream = torch.randn(len(ids), 6, dtype=torch.float64, generator=generator)

    expected_table = table.clone().requires_grad_()
    rows = F.embedding(ids, expected_table)
    expected = F.normalize(rows, dim=-1) if normalize else rows
    expected.backward(upstream)

    actual_table = table.clone().requires_grad_()
    actual = NormalizedLookup.apply(actual_table, ids, normalize, sparse)
    actual.backward(upstream)

    torch.testing.assert_close(actual.detach(), expected.detach(), rtol=1e-12, atol=1e-12)
    assert actual_table.grad.is_sparse == sparse
    torch.testing.assert_close(actual_table.grad.to_dense(), expected_table.grad, rtol=1e-10, atol=1e-10)


def test_gradcheck() -> None:
    generator = torch.Generator().manual_seed(5)
    table = torch.randn(5, 4, dtype=torch.float64, generator=generator, requires_grad=True)
    ids = torch.tensor([1, 3, 1, 0])
    assert torch.autograd.gradcheck(lambda t: NormalizedLookup.apply(t, ids, True, False), (table,))
