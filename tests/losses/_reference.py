"""Shared test helpers: random score batches and a check against a per-example numpy oracle.

The oracles themselves live in each loss's test file, written with plain numpy and explicit loops
over rows and negatives, independent of marginrank's torch code.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

Oracle = Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray]  # (pos [B], neg [B,N], mask [B,N]) -> [B]


def random_batch(seed: int, batch: int = 7, n_neg: int = 9, low: float = -1.0, high: float = 1.0):
    """pos [B], neg [B, N] float64 and a mask [B, N] with one all-masked row and one all-valid row."""
    rng = np.random.default_rng(seed)
    pos = rng.uniform(low, high, size=batch)
    neg = rng.uniform(low, high, size=(batch, n_neg))
    mask = rng.random((batch, n_neg)) < 0.6
    mask[0] = False
    mask[1] = True
    return torch.tensor(pos), torch.tensor(neg), torch.tensor(mask)


def valid(row: np.ndarray, row_mask: np.ndarray) -> list[float]:
    return [float(v) for v, keep in zip(row, row_mask) if keep]


def assert_matches_oracle(make_loss: Callable[[str], torch.nn.Module], oracle: Oracle, seed: int = 0, **batch) -> None:
    """Every reduction, with and without a mask, agrees with ``oracle`` to 1e-6."""
    pos, neg, mask = random_batch(seed, **batch)
    for use_mask in (False, True):
        m = mask if use_mask else None
        m_np = mask.numpy() if use_mask else np.ones(tuple(neg.shape), dtype=bool)
        expected = oracle(pos.numpy(), neg.numpy(), m_np)
        for reduction, reduce in (("none", lambda x: x), ("mean", np.mean), ("sum", np.sum)):
            got = make_loss(reduction)(pos, neg, m).detach().numpy()
            np.testing.assert_allclose(got, reduce(expected), rtol=1e-6, atol=1e-6, err_msg=f"{reduction=} {use_mask=}")


def grads(loss: torch.nn.Module, pos: torch.Tensor, neg: torch.Tensor, mask=None, **kwargs):
    """(value, d/d pos, d/d neg) of ``loss`` at the given scores."""
    pos = pos.clone().requires_grad_(True)
    neg = neg.clone().requires_grad_(True)
    value = loss(pos, neg, mask, **kwargs)
    value.sum().backward()
    return value.detach(), pos.grad, neg.grad
