"""Input checks of the shared forward: bad shapes, dtypes and masks give a clear MarginRankError."""

from __future__ import annotations

import math

import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import CCL, MMCL

B, N = 3, 4


@pytest.mark.parametrize(
    "pos,neg,mask,match",
    [
        (torch.zeros(B), torch.zeros(N), None, r"expected pos_scores \[B\] and neg_scores \[B, N\]"),
        (torch.zeros(B), torch.zeros(B + 1, N), None, "expected pos_scores"),
        (torch.zeros(B, 1), torch.zeros(B, N), None, "expected pos_scores"),
        (torch.zeros(B), torch.zeros(B, 0), None, "at least one"),
        (torch.zeros(0), torch.zeros(0, N), None, "at least one"),
        (torch.zeros(B, dtype=torch.long), torch.zeros(B, N, dtype=torch.long), None, "floating point"),
        (torch.zeros(B), torch.zeros(B, N, dtype=torch.float64), None, "share dtype"),
        ([0.0] * B, torch.zeros(B, N), None, "torch tensors"),
        (torch.zeros(B), torch.zeros(B, N), torch.ones(B, N), "bool"),
        (torch.zeros(B), torch.zeros(B, N), torch.ones(B, N + 1, dtype=torch.bool), "must match"),
    ],
)
def test_bad_inputs(pos, neg, mask, match: str) -> None:
    with pytest.raises(MarginRankError, match=match):
        CCL()(pos, neg, mask)


def test_shared_pool_is_passed_as_matrix_product() -> None:
    users, items = torch.randn(5, 8), torch.randn(20, 8)
    shared = users @ items.T  # [B, N]: every row sees the same N items
    per_row = torch.stack([CCL(reduction="none")(torch.ones(1), shared[b : b + 1])[0] for b in range(5)])
    torch.testing.assert_close(CCL(reduction="none")(torch.ones(5), shared), per_row)


class _Scorer(torch.autograd.Function):
    """Identity on a ``[B, N]`` score matrix that records the layout of the gradient it receives."""

    takes_sparse_score_grad = True
    received: list[torch.Tensor] = []

    @staticmethod
    def forward(ctx, scores):
        return scores.clone()

    @staticmethod
    def backward(ctx, grad):
        _Scorer.received.append(grad)
        return grad.to_dense()


@pytest.mark.parametrize("loss", [CCL(margin=0.5, neg_weight=3.0), MMCL(margins=[0.2, 0.6], weights=[0.3, 0.7], neg_weight=5.0)])
def test_active_negatives_hand_a_sparse_gradient_to_a_scorer_that_takes_one(loss) -> None:
    generator = torch.Generator().manual_seed(0)
    pos = torch.rand(6, dtype=torch.float64, generator=generator)
    neg = (torch.rand(6, 9, dtype=torch.float64, generator=generator) * 2 - 1).requires_grad_()
    _Scorer.received.clear()
    loss(pos, _Scorer.apply(neg)).backward()
    handed = _Scorer.received[-1]
    assert handed.is_sparse and handed.is_coalesced()
    sparse_grad = neg.grad.clone()
    neg.grad = None
    loss(pos, _Scorer.apply(neg) * 1.0).backward()  # an op in between: the gradient stays dense
    assert not _Scorer.received[-1].is_sparse
    torch.testing.assert_close(sparse_grad, neg.grad, rtol=0, atol=0)
    assert set(map(tuple, handed.indices().T.tolist())) == set(map(tuple, torch.nonzero(neg.grad).tolist()))
    neg.grad = None
    mask = torch.rand(6, 9, generator=generator) > 0.3
    loss(pos, _Scorer.apply(neg), mask).backward()  # masking is an op in between too
    assert not _Scorer.received[-1].is_sparse


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16])
@pytest.mark.parametrize("with_mask", [False, True])
def test_positions_above_lists_the_entries_over_the_threshold_row_major(dtype, with_mask):
    from marginrank.losses.base import positions_above

    generator = torch.Generator().manual_seed(5)
    scores = torch.rand(37, 53, generator=generator).to(dtype)
    scores[3, 7] = 0.5  # exactly at the threshold: not above
    mask = torch.rand(37, 53, generator=generator) > 0.3 if with_mask else None
    expected = [r * 53 + c for r in range(37) for c in range(53)
                if scores[r, c].item() > 0.5 and (mask is None or mask[r, c].item())]
    assert positions_above(scores, 0.5, mask).tolist() == expected
    # a transposed (non-contiguous) view is read in its own row-major order
    flipped = [r * 37 + c for r in range(53) for c in range(37) if scores.T[r, c].item() > 0.5]
    assert positions_above(scores.T, 0.5, None).tolist() == flipped


@pytest.mark.parametrize("scale", [1.0, 1 / 0.11, 50.0])
def test_scaled_logsumexp_matches_the_formula_and_autograd(scale: float) -> None:
    from marginrank.losses.base import masked_logsumexp

    generator = torch.Generator().manual_seed(3)
    values = (torch.rand(7, 11, dtype=torch.float64, generator=generator) * 4 - 2).requires_grad_()
    upstream = torch.rand(7, dtype=torch.float64, generator=generator)
    lse, has_valid = masked_logsumexp(values, None, scale)
    assert has_valid is None
    expected = [math.log(sum(math.exp(scale * v) for v in row)) for row in values.tolist()]
    torch.testing.assert_close(lse, torch.tensor(expected, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    (lse * upstream).sum().backward()
    reference = values.detach().clone().requires_grad_()
    (torch.logsumexp(scale * reference, dim=1) * upstream).sum().backward()
    torch.testing.assert_close(values.grad, reference.grad, rtol=1e-12, atol=1e-12)
    assert torch.autograd.gradcheck(lambda x: masked_logsumexp(x, None, scale)[0], (values.detach().clone().requires_grad_(),))


def test_scaled_logsumexp_stays_finite_where_exp_overflows() -> None:
    from marginrank.losses.base import masked_logsumexp

    values = torch.tensor([[1.0, 0.99, -1.0], [-1.0, -1.0, -1.0]], requires_grad=True)
    lse, _ = masked_logsumexp(values, None, 1000.0)  # exp(1000) overflows float32
    assert torch.isfinite(lse).all()
    torch.testing.assert_close(lse[1], torch.tensor(-1000.0 + math.log(3.0)))
    lse.sum().backward()
    torch.testing.assert_close(values.grad.sum(dim=1), torch.full((2,), 1000.0))
