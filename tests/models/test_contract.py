"""The contract every registered model meets (as implicit's mixin suite): one test class, run for each
name in the registry, so a new model is checked by adding its registry line."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank import Recommender, datasets
from marginrank.errors import MarginRankError
from marginrank.metrics import evaluate_popularity
from marginrank.models import ChunkScorer, FactorScorer, PairScorer, registry

SETTINGS = dict(dim=8, similarity="cosine", dropout=0.0, init_std=0.1, score_precision="float32", sparse=False)


@pytest.fixture(scope="module")
def pairs():
    rng = np.random.default_rng(0)
    dense = (rng.random((12, 9)) < 0.35).astype(np.float32)
    dense[np.arange(12), np.arange(12) % 9] = 1.0  # every user and item has a pair
    return sp.csr_matrix(dense)


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=1000, n_items=500)


@pytest.fixture(params=registry.available())
def name(request):
    return request.param


def build(name, pairs, **settings):
    torch.manual_seed(0)
    return registry.build(name, pairs, **{**SETTINGS, **settings})


def test_meets_the_typed_contracts(name, pairs):
    model = build(name, pairs)
    assert isinstance(model, PairScorer) and isinstance(model, FactorScorer) and isinstance(model, ChunkScorer)
    assert (model.n_users, model.n_items) == pairs.shape


@pytest.mark.parametrize("precision", ["float32", "bfloat16"])
@pytest.mark.parametrize("layout", ["shared", "grouped", "per_example"])
def test_training_scores_are_the_factor_products(name, pairs, layout, precision):
    model = build(name, pairs, score_precision=precision).eval()
    users, positives = torch.tensor([0, 3, 5, 7]), torch.tensor([1, 2, 8, 0])
    negatives = {
        "shared": torch.tensor([4, 5, 6]),
        "grouped": torch.tensor([[4, 5, 6], [0, 1, 2]]),
        "per_example": torch.tensor([[4, 5, 6], [0, 1, 2], [3, 3, 7], [8, 6, 1]]),
    }[layout]
    pos, neg = model(users, positives, negatives)
    scores = model.user_factors() @ model.item_factors().T
    row_negatives = negatives.expand(4, -1) if negatives.dim() == 1 else negatives.repeat_interleave(4 // negatives.shape[0], 0)
    torch.testing.assert_close(pos, scores[users, positives])
    # bfloat16 keeps 8 significant bits: a cosine is off by at most 2^-8 of the largest summand
    tolerance = {"float32": {}, "bfloat16": {"atol": 2**-7, "rtol": 0.0}}[precision]
    torch.testing.assert_close(neg, scores[users.unsqueeze(1), row_negatives], **tolerance)
    torch.testing.assert_close(model.score_all(users), scores[users])


@pytest.mark.parametrize("similarity", ["cosine", "dot"])
def test_ranking_similarity_changes_what_ranks_not_what_trains(name, pairs, similarity):
    same = build(name, pairs, similarity=similarity).eval()
    other = "dot" if similarity == "cosine" else "cosine"
    ranked = build(name, pairs, similarity=similarity, ranking_similarity=other).eval()
    users, positives, negatives = torch.tensor([0, 3, 5]), torch.tensor([1, 2, 8]), torch.tensor([4, 5, 6])
    for left, right in zip(same(users, positives, negatives), ranked(users, positives, negatives)):
        torch.testing.assert_close(left, right)  # the same weights train the same way
    raw_users, raw_items = ranked.user_factors("dot"), ranked.item_factors("dot")
    norms = (raw_users.norm(dim=1, keepdim=True), raw_items.norm(dim=1, keepdim=True))
    expected = {"dot": raw_users @ raw_items.T, "cosine": (raw_users / norms[0]) @ (raw_items / norms[1]).T}
    torch.testing.assert_close(same.score_all(users), expected[similarity][users])
    torch.testing.assert_close(ranked.score_all(users), expected[other][users])
    torch.testing.assert_close(ranked.user_factors(similarity) @ ranked.item_factors(similarity).T, expected[similarity])
    with pytest.raises(MarginRankError, match="ranking_similarity"):
        build(name, pairs, ranking_similarity="euclidean")


def test_a_loss_on_the_scores_moves_the_weights(name, pairs):
    model = build(name, pairs).train()
    before = [p.detach().clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    pos, neg = model(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2, 3]))
    (neg.mean() - pos.mean() + model.regularization(torch.tensor([0, 1]), torch.tensor([0, 1]), torch.tensor([2, 3]))).backward()
    optimizer.step()
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters()))


def test_regularization_is_half_the_squared_norm_of_a_rows_weights(name, pairs):
    model = build(name, pairs)
    one = model.regularization(torch.tensor([0]), torch.tensor([1]), torch.tensor([2]))
    twice = model.regularization(torch.tensor([0, 0]), torch.tensor([1, 1]), torch.tensor([2, 2]))
    assert one.dim() == 0 and one > 0
    torch.testing.assert_close(twice, 2 * one)


def test_recommend_ranks_by_score_and_skips_excluded_items(name, pairs):
    model = build(name, pairs).eval()
    items, scores = model.recommend(torch.tensor([0, 4]), k=3, exclude=pairs)
    all_scores = model.score_all(torch.tensor([0, 4]))
    for row, user in enumerate((0, 4)):
        allowed = np.setdiff1d(np.arange(pairs.shape[1]), pairs[user].indices)
        best = allowed[np.argsort(-all_scores[row, allowed].numpy(), kind="stable")[:3]]
        assert set(items[row].tolist()) == set(best.tolist())
        assert not set(items[row].tolist()) & set(pairs[user].indices.tolist())
        assert torch.all(scores[row][:-1] >= scores[row][1:])


def test_state_dict_round_trip_into_a_model_built_without_pairs(name, pairs):
    trained = build(name, pairs).eval()
    restored = build(name, sp.csr_matrix(pairs.shape, dtype=np.float32), init_std=0.5)
    restored.load_state_dict(trained.state_dict())
    restored.eval()
    torch.testing.assert_close(restored.user_factors(), trained.user_factors())
    torch.testing.assert_close(restored.item_factors(), trained.item_factors())


def test_bad_ids_and_settings_are_clear_errors(name, pairs):
    model = build(name, pairs)
    with pytest.raises(MarginRankError, match="item ids must lie in 0..8"):
        model(torch.tensor([0]), torch.tensor([9]), torch.tensor([1]))
    with pytest.raises(MarginRankError, match="user ids must lie in 0..11"):
        model.score_all(torch.tensor([12]))
    with pytest.raises(MarginRankError, match=f"model {name!r} has no setting colour"):
        build(name, pairs, colour=1)


def test_trains_through_the_recommender_above_popularity_and_reloads(name, data, tmp_path):
    rec = Recommender(model=name, loss="softmax", loss_params={"temperature": 0.1}, negatives=100, shared_negatives=True,
                      group_size=16, epochs=8, lr=3e-3, protocol="none", progress=False, seed=0).fit(data)
    popularity = evaluate_popularity(data.train.matrix, data.test.matrix)["recall@20"]
    assert rec.metrics_["recall@20"] > 1.5 * popularity
    rec.save(tmp_path / "model.pt")
    again = Recommender.load(tmp_path / "model.pt")
    assert again.params.model == name
    np.testing.assert_array_equal(again.recommend([0, 1], k=5)[0], rec.recommend([0, 1], k=5)[0])
