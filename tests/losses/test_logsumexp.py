"""The fused ``ScaledLogSumExp`` against ``torch.logsumexp``, including rows of ``-inf``."""

from __future__ import annotations

import math

import torch

from marginrank.losses.base import ScaledLogSumExp


def test_matches_torch_logsumexp_value_and_gradient():
    values = torch.randn(6, 9, dtype=torch.float64)
    values[2] = -math.inf  # every score excluded by -inf: exp sums to 0
    values[4, :5] = -math.inf
    ours_in = values.clone().requires_grad_(True)
    reference_in = values.clone().requires_grad_(True)
    ours = ScaledLogSumExp.apply(ours_in, 2.5)
    reference = torch.logsumexp(2.5 * reference_in, dim=1)
    torch.testing.assert_close(ours, reference)
    assert ours[2] == -math.inf
    weights = torch.arange(1.0, 7.0, dtype=torch.float64)
    finite = torch.isfinite(reference)
    (g_ours,) = torch.autograd.grad((ours[finite] * weights[finite]).sum(), ours_in)
    (g_ref,) = torch.autograd.grad((reference[finite] * weights[finite]).sum(), reference_in)
    torch.testing.assert_close(g_ours[finite], g_ref[finite])
    (g_all,) = torch.autograd.grad(ScaledLogSumExp.apply(ours_in, 2.5).sum(), ours_in)
    assert torch.equal(g_all[2], torch.zeros(9, dtype=torch.float64))  # torch's own gives NaN here
