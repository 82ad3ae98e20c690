import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.models.dropout import Dropout


def test_drop_rate_and_scale_match_the_rounded_rate():
    torch.manual_seed(0)
    layer = Dropout(0.1).train()
    x = torch.ones(512, 1024)
    out = layer(x)
    dropped = (out == 0).double().mean().item()
    rounded = round(0.1 * 65536) / 65536
    # 524,288 Bernoulli(0.1) draws: the standard error of the rate is 4.1e-4
    assert dropped == pytest.approx(rounded, abs=2e-3)
    kept = out[out != 0]
    assert torch.allclose(kept, torch.full_like(kept, 1 / (1 - rounded)))


def test_entries_are_dropped_independently():
    torch.manual_seed(1)
    out = Dropout(0.5).train()(torch.ones(4096, 64))
    kept = (out != 0).double()
    # neighbours (which share a 64-bit draw) and rows are uncorrelated
    neighbours = torch.corrcoef(torch.stack([kept[:, 0::4].reshape(-1), kept[:, 1::4].reshape(-1)]))[0, 1]
    assert abs(neighbours.item()) < 0.02
    assert kept.mean(dim=0).std().item() < 0.03


def test_gradient_is_the_mask_times_the_scale():
    torch.manual_seed(2)
    layer = Dropout(0.3).train()
    x = torch.randn(33, 7, requires_grad=True)  # 231 entries: not a multiple of 4
    out = layer(x)
    out.sum().backward()
    keep = out.detach() != 0
    assert torch.equal(x.grad, keep.float() * layer.scale)
    assert torch.allclose(out.detach(), x.detach() * keep * layer.scale)


def test_seeded_draws_repeat_and_eval_is_identity():
    layer = Dropout(0.2).train()
    x = torch.randn(100, 64)
    torch.manual_seed(3)
    first = layer(x)
    torch.manual_seed(3)
    assert torch.equal(first, layer(x))
    assert layer.eval()(x) is x
    assert Dropout(0.0).train()(x) is x


@pytest.mark.parametrize("p", [-0.1, 1.0, 1.5])
def test_rate_outside_unit_interval_is_refused(p):
    with pytest.raises(MarginRankError, match="dropout"):
        Dropout(p)


def test_float64_input_is_scaled_in_float64():
    torch.manual_seed(6)
    layer = Dropout(0.1).train()
    out = layer(torch.ones(64, 64, dtype=torch.float64))
    assert out.dtype == torch.float64
    kept = out[out != 0]
    assert torch.equal(kept, torch.full_like(kept, layer.scale))
