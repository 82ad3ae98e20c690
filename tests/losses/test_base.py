"""Input checks of the shared forward: bad shapes, dtypes and masks give a clear MarginRankError."""

from __future__ import annotations

import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.losses import CCL

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
