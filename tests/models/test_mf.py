"""MF against a naive numpy re-statement, its regularizer, recommend, and a quality floor."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from marginrank import Recommender, datasets
from marginrank.datasets import make_synthetic
from marginrank.errors import MarginRankError
from marginrank.losses import CCL
from marginrank.metrics import evaluate_embeddings, evaluate_popularity
from marginrank.models import MF
from marginrank.models.spectral_init import lift_cosines


def naive_score(model: MF, user: int, item: int) -> float:
    u = model.user_embedding.weight[user].detach().double().numpy()
    i = model.item_embedding.weight[item].detach().double().numpy()
    if model.similarity == "cosine":
        u, i = u / np.linalg.norm(u), i / np.linalg.norm(i)
    return float(u @ i)


@pytest.fixture(params=["cosine", "dot"])
def model(request) -> MF:
    torch.manual_seed(0)
    return MF(7, 11, dim=5, similarity=request.param, init_std=0.3, dropout=0.5, score_precision="float32").eval()


def test_forward_shared_pool_matches_naive(model):
    users, pos, pool = torch.tensor([0, 3, 3, 6]), torch.tensor([1, 2, 10, 0]), torch.tensor([4, 5, 1, 9, 9])
    pos_scores, neg_scores = model(users, pos, pool)
    assert neg_scores.shape == (4, 5)
    for b, u in enumerate(users.tolist()):
        assert pos_scores[b].item() == pytest.approx(naive_score(model, u, pos[b].item()), abs=1e-6)
        for j, i in enumerate(pool.tolist()):
            assert neg_scores[b, j].item() == pytest.approx(naive_score(model, u, i), abs=1e-6)


def test_forward_per_example_matches_naive(model):
    users, pos = torch.tensor([1, 2, 5]), torch.tensor([0, 7, 3])
    neg = torch.tensor([[1, 2, 3, 4], [10, 9, 8, 7], [0, 0, 6, 5]])
    pos_scores, neg_scores = model(users, pos, neg)
    for b, u in enumerate(users.tolist()):
        for j, i in enumerate(neg[b].tolist()):
            assert neg_scores[b, j].item() == pytest.approx(naive_score(model, u, i), abs=1e-6)
    # the shared-pool path on the same items gives the same numbers
    assert torch.allclose(model(users, pos, neg[0])[1][0], neg_scores[0], atol=1e-6)


def test_dropout_only_in_training(model):
    users, pos, pool = torch.arange(7), torch.arange(7), torch.arange(11)
    eval_scores = model(users, pos, pool)[1]
    assert torch.equal(eval_scores, model(users, pos, pool)[1])
    model.train()
    train_scores = model(users, pos, pool)[1]
    assert not torch.allclose(train_scores, eval_scores)
    # dropout zeroes whole user coordinates: a zeroed coordinate contributes nothing
    assert (train_scores == 0).any() or not torch.allclose(train_scores, eval_scores)


def test_dropout_before_norm_keeps_cosines():
    torch.manual_seed(0)
    model = MF(7, 11, dim=64, init_std=0.3, dropout=0.5, dropout_before_norm=True).train()
    users = torch.tensor([0, 3, 3, 6])
    vectors = model.user_vectors(users)
    raw = model.user_embedding.weight[users].detach()
    kept = vectors.detach() != 0
    assert 0.3 < kept.float().mean().item() < 0.7  # about half the coordinates dropped
    # what survives is the raw vector restricted to the kept coordinates, normalized: unit norm
    expected = torch.where(kept, raw, torch.zeros_like(raw))
    expected = expected / expected.norm(dim=1, keepdim=True)
    assert torch.allclose(vectors, expected, atol=1e-6)
    assert torch.allclose(vectors.norm(dim=1), torch.ones(4), atol=1e-6)
    vectors.sum().backward()
    assert model.user_embedding.weight.grad[users].abs().sum() > 0
    # dropout after the normalization leaves longer vectors: E||x * keep / (1 - p)||^2 = 1 / (1 - p)
    after = MF(7, 11, dim=64, init_std=0.3, dropout=0.5).train()
    assert after.user_vectors(torch.arange(7)).norm(dim=1).mean().item() > 1.2
    assert torch.allclose(model.eval().user_vectors(users), F.normalize(model.user_embedding.weight[users], dim=1), atol=1e-6)


def test_regularization_counts_each_occurrence(model):
    users, pos, neg = torch.tensor([0, 0, 4]), torch.tensor([1, 2, 3]), torch.tensor([[5, 5], [6, 7], [8, 9]])
    U = model.user_embedding.weight.detach().double().numpy()
    I = model.item_embedding.weight.detach().double().numpy()
    expected = 0.5 * (sum((U[u] ** 2).sum() for u in users.tolist()) + sum((I[i] ** 2).sum() for i in [1, 2, 3, 5, 5, 6, 7, 8, 9]))
    assert model.regularization(users, pos, neg).item() == pytest.approx(expected, rel=1e-5)
    shared = 0.5 * (sum((U[u] ** 2).sum() for u in users.tolist()) + sum((I[i] ** 2).sum() for i in [1, 2, 3, 5, 6]))
    assert model.regularization(users, pos, torch.tensor([5, 6])).item() == pytest.approx(shared, rel=1e-5)


def test_factors_reproduce_forward_and_score_all(model):
    users, pos, pool = torch.tensor([2, 4]), torch.tensor([3, 3]), torch.arange(11)
    factors = model.user_factors()[users] @ model.item_factors().T
    assert torch.allclose(model(users, pos, pool)[1], factors, atol=1e-6)
    model.train()  # score_all has eval semantics whatever the mode
    assert torch.allclose(model.score_all(users), factors, atol=1e-6)
    assert not model.user_factors().requires_grad


def test_recommend_never_returns_excluded(model):
    rng = np.random.default_rng(1)
    seen = rng.random((7, 11)) < 0.5
    seen[3] = True
    seen[3, :2] = False  # user 3 has seen everything but items 0 and 1
    exclude = sp.csr_matrix(seen.astype(np.float32))
    items, scores = model.recommend(torch.arange(7), 4, exclude)
    dense = exclude.toarray() > 0
    for user in range(7):
        returned = [i for i in items[user].tolist() if i >= 0]
        assert not dense[user, returned].any()
        expected = np.argsort(-model.score_all(torch.tensor([user]))[0].numpy()[~dense[user]])
        assert len(returned) == min(4, (~dense[user]).sum())
        assert sorted(returned) == sorted(np.flatnonzero(~dense[user])[expected[: len(returned)]].tolist())
    assert items[3, 2:].tolist() == [-1, -1] and torch.isneginf(scores[3, 2:]).all()


def test_bad_input_is_a_marginrank_error(model):
    with pytest.raises(MarginRankError, match="item ids"):
        model(torch.tensor([0]), torch.tensor([11]), torch.tensor([0]))
    with pytest.raises(MarginRankError, match="user ids"):
        model.recommend(torch.tensor([7]), 3)
    with pytest.raises(MarginRankError, match="neg_items"):
        model(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(MarginRankError, match="similarity"):
        MF(3, 3, similarity="euclid")
    with pytest.raises(MarginRankError, match="exclude"):
        model.recommend(torch.tensor([0]), 2, sp.csr_matrix((3, 3)))


def test_sparse_embeddings_give_sparse_gradients():
    model = MF(5, 6, dim=3, sparse=True)
    pos, neg = model(torch.tensor([0, 1]), torch.tensor([2, 3]), torch.tensor([4, 5]))
    (pos.sum() - neg.sum()).backward()
    assert model.item_embedding.weight.grad.is_sparse


def train_ccl(dataset, epochs: int, seed: int = 0) -> MF:
    """A tiny training loop: cosine MF, CCL, a shared pool of uniform negatives, Adam."""
    torch.manual_seed(seed)
    model = MF(dataset.n_users, dataset.n_items, dim=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = CCL(margin=0.5, neg_weight=50.0)
    users, items = torch.from_numpy(dataset.train.users), torch.from_numpy(dataset.train.items)
    for _ in range(epochs):
        for batch in torch.randperm(len(users)).split(256):
            pool = torch.randint(dataset.n_items, (256,))
            loss = loss_fn(*model(users[batch], items[batch], pool))
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model


def test_tiny_mf_with_ccl_beats_popularity(one_thread):
    data = make_synthetic(n_users=1000, n_items=500)
    train, test = data.train.matrix, data.test.matrix
    model = train_ccl(data, epochs=10)  # recall@20 about 0.21 vs 0.125 for popularity
    learned = evaluate_embeddings(model.user_factors(), model.item_factors(), train, test, ks=(20,))
    popular = evaluate_popularity(train, test, ks=(20,))
    assert learned["recall@20"] > 1.3 * popular["recall@20"]


def test_the_svd_init_ranks_the_training_blocks_before_any_step():
    """Two planted communities, each user with about half of its community's items: from the low-pass
    factors alone, every user ranks all of its community's items (the unseen ones too) above the other's."""
    own = np.kron(np.eye(2), np.ones((20, 30))).astype(bool)
    seen = own & (np.random.default_rng(0).random(own.shape) < 0.5)
    torch.manual_seed(0)
    model = MF.build(sp.csr_matrix(seen.astype(np.float32)), dim=3, init="svd").eval()
    scores = model.score_all(torch.arange(40)).numpy()
    assert all(scores[u][own[u]].min() > scores[u][~own[u]].max() for u in range(40))


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_the_svd_init_ranks_as_the_low_pass_filter(similarity):
    """The start scores each user's items as ``r_u D^-1/2 V V^T`` does up to the user's own positive
    factor, ``V`` the top right singular vectors of ``D_u^-1/2 R D_i^-1/2`` (GF-CF's ideal low-pass
    filter), under cosine scores too. Three planted communities leave a clear spectral gap, so the
    randomized SVD finds the same ``V`` (equal up to a correlation of 0.99; other users' 0.11)."""
    rng = np.random.default_rng(1)
    communities = np.kron(np.eye(3), np.ones((20, 14)))
    seen = (rng.random(communities.shape) < np.where(communities > 0, 0.6, 0.05)).astype(np.float64)
    dim = 4
    item_degree = np.maximum(seen.sum(axis=0), 1.0)
    normalized = seen / np.sqrt(seen.sum(axis=1, keepdims=True)) / np.sqrt(item_degree)
    right = np.linalg.svd(normalized)[2][: dim - 1].T
    expected = (seen / np.sqrt(item_degree)) @ right @ right.T
    torch.manual_seed(0)
    model = MF.build(sp.csr_matrix(seen), dim=dim, similarity=similarity, init="svd", init_std=1e-9).eval()
    scores = model.score_all(torch.arange(60)).numpy()
    correlations = [np.corrcoef(scores[user], expected[user])[0, 1] for user in range(60)]
    assert min(correlations) > 0.99


def test_an_unknown_init_is_refused_by_name():
    with pytest.raises(MarginRankError, match="init"):
        MF.build(sp.csr_matrix(np.ones((3, 4))), dim=2, init="xavier")


@pytest.mark.parametrize("init", ["svd", "als"])
def test_a_closed_form_init_starts_training_ahead_of_a_random_one(init):
    data = datasets.load("synthetic", n_users=400, n_items=200)
    settings = dict(negatives=20, epochs=1, protocol="paper", progress=False)
    normal = Recommender(model_params={"init": "normal"}, **settings).fit(data).metrics_["recall@20"]
    started = Recommender(model_params={"init": init}, **settings).fit(data).metrics_["recall@20"]
    assert started > 1.5 * normal


def test_the_default_init_is_the_als_start():
    pairs = sp.csr_matrix(np.kron(np.eye(2), np.ones((3, 4))))
    torch.manual_seed(0)
    default = MF.build(pairs, dim=3, init_std=1e-9)
    torch.manual_seed(0)
    als = MF.build(pairs, dim=3, init="als", init_std=1e-9)
    assert torch.equal(default.user_embedding.weight, als.user_embedding.weight)
    assert torch.equal(default.item_embedding.weight, als.item_embedding.weight)


def test_lifted_cosines_are_the_affine_map_of_the_old_ones_with_norms_kept():
    rng = np.random.default_rng(0)
    users, items = rng.normal(size=(6, 5)).astype(np.float32), rng.normal(size=(9, 5)).astype(np.float32)
    lifted_users, lifted_items = lift_cosines(users, items, 0.6)

    def cosines(a, b):
        return (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T

    assert lifted_users.shape == (6, 6) and lifted_items.shape == (9, 6)
    np.testing.assert_allclose(cosines(lifted_users, lifted_items), 0.6 + 0.4 * cosines(users, items), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(lifted_items, axis=1), np.linalg.norm(items, axis=1), rtol=1e-5)


def test_a_lifted_start_keeps_the_ranking_and_sets_unrelated_pairs_near_the_lift():
    """Two planted communities: the lifted start (one column of ``dim`` holds the lift) still ranks
    every user's community first, and the other community's pairs, near cosine 0 without the lift,
    sit near 0.6 with it."""
    own = np.kron(np.eye(2), np.ones((20, 30))).astype(bool)
    seen = sp.csr_matrix((own & (np.random.default_rng(0).random(own.shape) < 0.5)).astype(np.float32))
    cosines = {}
    for lift, dim in ((0.0, 3), (0.6, 4)):
        torch.manual_seed(0)
        model = MF.build(seen, dim=dim, init="svd", start_cosine=lift, init_std=1e-9).eval()
        scores = model.score_all(torch.arange(40)).numpy()
        assert all(scores[u][own[u]].min() > scores[u][~own[u]].max() for u in range(40))
        cosines[lift] = scores[~own].mean()
    assert abs(cosines[0.0]) < 0.2 and abs(cosines[0.6] - 0.6 - 0.4 * cosines[0.0]) < 0.02


@pytest.mark.parametrize("settings", [dict(dim=3, start_cosine=1.0), dict(dim=2, start_cosine=0.5),
                                      dict(dim=8, start_cosine=0.5, init="normal")])
def test_a_start_cosine_that_cannot_lift_is_refused_by_name(settings):
    with pytest.raises(MarginRankError, match="start_cosine"):
        MF.build(sp.csr_matrix(np.ones((3, 4))), **settings)
