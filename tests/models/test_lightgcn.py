"""LightGCN against a dense re-statement of its propagation (He et al., SIGIR 2020, eq. 7-8)."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank import Recommender, datasets
from marginrank.errors import MarginRankError
from marginrank.models import LightGCN
from marginrank.models.propagation import NormalizedGraph


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(3)
    dense = (rng.random((9, 7)) < 0.3).astype(np.float32)
    dense[8] = 0.0  # a user without pairs
    return sp.csr_matrix(dense)


def dense_normalized(pairs: sp.csr_matrix) -> torch.Tensor:
    """``D^-1/2 A D^-1/2`` of ``A = [[0, R], [R^T, 0]]``, isolated nodes left at zero."""
    users, items = pairs.shape
    adjacency = np.zeros((users + items, users + items))
    adjacency[:users, users:] = pairs.toarray()
    adjacency[users:, :users] = pairs.toarray().T
    degree = adjacency.sum(axis=1)
    scale = np.divide(1.0, np.sqrt(degree), out=np.zeros_like(degree), where=degree > 0)
    return torch.tensor(scale[:, None] * adjacency * scale[None, :])


@pytest.mark.parametrize("layers", [0, 1, 3])
def test_final_embeddings_are_the_mean_of_the_propagated_layers(pairs, layers):
    torch.manual_seed(0)
    model = LightGCN(pairs, dim=4, layers=layers, similarity="dot", init_std=0.3).double()
    adjacency, nodes = dense_normalized(pairs), model.node_embedding
    layer, expected = nodes, nodes.clone()
    for _ in range(layers):
        layer = adjacency @ layer
        expected = expected + layer
    expected = expected / (layers + 1)
    torch.testing.assert_close(model.propagated(), expected)
    weights = torch.randn_like(expected)
    (got,) = torch.autograd.grad((model.propagated() * weights).sum(), nodes)
    (want,) = torch.autograd.grad((expected * weights).sum(), nodes)
    torch.testing.assert_close(got, want)


def test_a_node_without_pairs_keeps_only_its_own_share(pairs):
    model = LightGCN(pairs, dim=4, layers=2, similarity="dot", init_std=0.3)
    torch.testing.assert_close(model.propagated()[8], model.node_embedding[8] / 3)


def test_duplicate_pairs_count_once():
    single = NormalizedGraph(sp.csr_matrix(np.array([[1.0, 1.0], [0.0, 1.0]])))
    doubled = NormalizedGraph(sp.coo_matrix(([1.0, 1.0, 1.0, 1.0], ([0, 0, 0, 1], [0, 0, 1, 1])), shape=(2, 2)))
    nodes = torch.randn(4, 3)
    torch.testing.assert_close(single(nodes), doubled(nodes))


def test_factors_are_cached_until_the_weights_change(pairs):
    model = LightGCN(pairs, dim=4, layers=2, init_std=0.3).eval()
    first = model.item_factors()
    assert model._propagated_now() is model._propagated_now()
    with torch.no_grad():
        model.node_embedding.add_(1.0)  # as an optimizer step or a loaded state changes it
    assert not torch.allclose(model.item_factors(), first)


def test_sparse_tables_are_refused(pairs):
    with pytest.raises(MarginRankError, match="set sparse = false"):
        LightGCN.build(pairs, sparse=True)


def test_the_graph_holds_the_training_pairs_but_never_the_validation_ones():
    data = datasets.load("synthetic", n_users=200, n_items=100, mean_items_per_user=15)
    rec = Recommender(model="lightgcn", model_params={"layers": 1}, negatives=20, epochs=1, valid_ratio=0.2,
                      progress=False).fit(data)
    graph = set(zip(rec.model.graph_users.tolist(), rec.model.graph_items.tolist()))
    train = set(zip(data.train.users.tolist(), data.train.items.tolist()))
    assert graph < train and len(graph) < 0.85 * len(train)
