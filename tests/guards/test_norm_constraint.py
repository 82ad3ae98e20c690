"""NormConstraint: ball and sphere projections of embedding rows."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from marginrank.errors import MarginRankError
from marginrank.guards import NormConstraint
from marginrank.models import MF


def test_bounds_embedding_rows_of_a_model():
    torch.manual_seed(0)
    model = MF(20, 30, dim=8, init_std=1.0, similarity="dot")
    before = model.item_embedding.weight.detach().clone()
    NormConstraint(max_norm=1.5)(model)
    for table, original in ((model.item_embedding.weight, before), (model.user_embedding.weight, None)):
        norms = table.detach().norm(dim=1)
        assert (norms <= 1.5 + 1e-5).all()
    # rows already inside the ball are untouched, the others keep their direction
    inside = before.norm(dim=1) <= 1.5
    assert torch.equal(model.item_embedding.weight[inside], before[inside])
    outside = ~inside
    assert outside.any()
    cos = torch.nn.functional.cosine_similarity(model.item_embedding.weight[outside], before[outside])
    assert torch.allclose(cos, torch.ones_like(cos), atol=1e-6)


def test_exact_projects_onto_the_sphere_and_keeps_zero_rows():
    table = torch.tensor([[3.0, 4.0], [0.0, 0.0], [0.03, 0.04]])
    NormConstraint(max_norm=2.0, exact=True)(table)
    assert torch.allclose(table, torch.tensor([[1.2, 1.6], [0.0, 0.0], [1.2, 1.6]]))


def test_named_parameters_and_lists():
    layer = nn.Linear(3, 4)
    with torch.no_grad():
        layer.weight.mul_(100)
    NormConstraint(0.5, parameter_names=["weight"]).apply(layer)
    assert (layer.weight.norm(dim=1) <= 0.5 + 1e-6).all()
    a, b = torch.full((2, 2), 10.0), torch.full((3,), 10.0)
    NormConstraint(1.0)([a, b])
    assert torch.allclose(a.norm(dim=1), torch.ones(2)) and b.norm().item() == pytest.approx(1.0)
    with pytest.raises(MarginRankError, match="no parameter"):
        NormConstraint(parameter_names=["nope"]).apply(layer)
    with pytest.raises(MarginRankError, match="max_norm"):
        NormConstraint(0.0)
