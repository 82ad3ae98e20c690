import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from marginrank.errors import MarginRankError
from marginrank.metrics import FullRanker, evaluate_embeddings, evaluate_popularity, topk_metrics
from marginrank.metrics.ranking import map_at_k, mrr_at_k, ndcg_at_k, precision_at_k, recall_at_k, hit_at_k


def reference_metrics(scores, train, test, ks):
    """Independent statement: a Python loop per user over a full argsort."""
    train, test = train.tolil(), test.tolil()
    totals = {f"{m}@{k}": 0.0 for m in ("recall", "ndcg", "precision", "hit", "mrr", "map") for k in ks}
    n = 0
    for user in range(scores.shape[0]):
        relevant = set(test.rows[user])
        if not relevant:
            continue
        n += 1
        seen = set(train.rows[user])
        ranking = [i for i in np.argsort(-scores[user], kind="stable") if i not in seen]
        for k in ks:
            top = ranking[:k]
            flags = [item in relevant for item in top]
            n_hits = sum(flags)
            dcg = sum(1 / math.log2(r + 2) for r, f in enumerate(flags) if f)
            idcg = sum(1 / math.log2(r + 2) for r in range(min(len(relevant), k)))
            first = next((r for r, f in enumerate(flags) if f), None)
            ap = sum(sum(flags[: r + 1]) / (r + 1) for r, f in enumerate(flags) if f) / min(len(relevant), k)
            totals[f"recall@{k}"] += n_hits / len(relevant)
            totals[f"precision@{k}"] += n_hits / k
            totals[f"hit@{k}"] += float(n_hits > 0)
            totals[f"ndcg@{k}"] += dcg / idcg
            totals[f"mrr@{k}"] += 0.0 if first is None else 1 / (first + 1)
            totals[f"map@{k}"] += ap
    return {key: value / n for key, value in totals.items()}


def random_problem(seed, n_users=60, n_items=50):
    rng = np.random.default_rng(seed)
    train = sp.csr_matrix((rng.random((n_users, n_items)) < 0.2).astype(np.float32))
    test_mask = (rng.random((n_users, n_items)) < 0.15) & (train.toarray() == 0)
    test_mask[:5] = False  # users without test items are skipped
    return rng.normal(size=(n_users, n_items)), train, sp.csr_matrix(test_mask.astype(np.float32))


@pytest.mark.parametrize("seed", range(5))
def test_topk_metrics_match_an_independent_implementation(seed):
    scores, train, test = random_problem(seed)
    ks = (1, 5, 10, 20)
    ours = topk_metrics(scores, train, test, ks, chunk_size=7)
    reference = reference_metrics(scores, train, test, ks)
    assert ours.keys() == reference.keys()
    for key in reference:
        assert ours[key] == pytest.approx(reference[key], abs=1e-6), key


def test_hand_worked_hit_matrix():
    hits = np.array([[True, False, True], [False, False, False], [False, True, False]])
    n_rel = np.array([2, 1, 4])
    assert recall_at_k(hits, n_rel, 3).tolist() == [1.0, 0.0, 0.25]
    assert precision_at_k(hits, n_rel, 2).tolist() == [0.5, 0.0, 0.5]
    assert hit_at_k(hits, n_rel, 1).tolist() == [1.0, 0.0, 0.0]
    assert mrr_at_k(hits, n_rel, 3).tolist() == [1.0, 0.0, 0.5]
    # user 0: AP = (1/1 + 2/3) / min(2, 3); user 2: (1/2) / min(4, 3)
    np.testing.assert_allclose(map_at_k(hits, n_rel, 3), [(1 + 2 / 3) / 2, 0.0, 0.5 / 3])
    # user 0: DCG = 1 + 1/log2(4) = 1.5, IDCG = 1 + 1/log2(3); user 2: (1/log2 3) / (1 + 1/log2 3 + 1/2)
    np.testing.assert_allclose(
        ndcg_at_k(hits, n_rel, 3),
        [1.5 / (1 + 1 / math.log2(3)), 0.0, (1 / math.log2(3)) / (1 + 1 / math.log2(3) + 0.5)],
    )


def test_embeddings_equal_dense_scores_and_cosine():
    rng = np.random.default_rng(1)
    _, train, test = random_problem(1)
    users, items = rng.normal(size=(60, 8)), rng.normal(size=(50, 8))
    dense = topk_metrics(users @ items.T, train, test, (5, 10))
    chunked = evaluate_embeddings(users, items, train, test, (5, 10), chunk_size=11)
    for key in dense:
        assert chunked[key] == pytest.approx(dense[key], abs=1e-6)
    normalized = users / np.linalg.norm(users, axis=1, keepdims=True), items / np.linalg.norm(items, axis=1, keepdims=True)
    cosine = evaluate_embeddings(users, items, train, test, (5,), "cosine")
    assert cosine["ndcg@5"] == pytest.approx(topk_metrics(normalized[0] @ normalized[1].T, train, test, (5,))["ndcg@5"], abs=1e-6)


def test_result_does_not_depend_on_chunk_size_even_with_ties():
    _, train, test = random_problem(2)
    scores = np.round(np.random.default_rng(2).normal(size=(60, 50)))  # many ties
    for ties in ("random", "pessimistic"):
        results = [topk_metrics(scores, train, test, (10,), ties=ties, chunk_size=c) for c in (1, 7, 60)]
        assert results[0] == pytest.approx(results[1])
        assert results[0] == pytest.approx(results[2])


def test_constant_model_scores_at_chance_not_by_item_index():
    n_users, n_items, k = 400, 100, 10
    train = sp.csr_matrix((n_users, n_items), dtype=np.float32)
    # every user's test items are the lowest item ids: index-ordered ties would score recall 1
    test = sp.csr_matrix(np.tile(np.arange(n_items) < k, (n_users, 1)).astype(np.float32))
    result = topk_metrics(np.zeros((n_users, n_items)), train, test, (k,), seed=0)
    chance = k / n_items
    assert abs(result[f"recall@{k}"] - chance) < 0.05
    assert topk_metrics(np.zeros((n_users, n_items)), train, test, (k,), seed=0) == result
    assert topk_metrics(np.zeros((n_users, n_items)), train, test, (k,), ties="pessimistic")[f"recall@{k}"] == 0.0


@pytest.mark.parametrize("seed", range(3))
def test_pessimistic_ties_match_a_reference_that_ranks_test_items_last(seed):
    _, train, test = random_problem(seed)
    scores = np.round(np.random.default_rng(seed).normal(size=(60, 50)))
    # reference: equal scores ordered with non-test items first (a stable sort on score after is_test)
    is_test = test.toarray() > 0
    ranked = scores - 0.5 * is_test  # integer scores: shifting by 0.5 keeps other orders and puts test items last
    expected = reference_metrics(ranked, train, test, (1, 5, 10))
    ours = topk_metrics(scores, train, test, (1, 5, 10), ties="pessimistic")
    for key in expected:
        assert ours[key] == pytest.approx(expected[key], abs=1e-9), key
    optimistic = reference_metrics(scores + 0.5 * is_test, train, test, (10,))
    randomized = topk_metrics(scores, train, test, (10,), ties="random")
    assert expected["ndcg@10"] <= randomized["ndcg@10"] <= optimistic["ndcg@10"]


def test_training_items_are_never_counted_even_when_few_candidates_remain():
    train = sp.csr_matrix(np.array([[1, 1, 1, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[1, 0, 0, 1]], dtype=np.float32))  # item 0 overlaps train
    result = topk_metrics(np.array([[9.0, 8.0, 7.0, 0.0]]), train, test, (3,))
    assert result["recall@3"] == 0.5 and result["precision@3"] == pytest.approx(1 / 3)


def test_bad_arguments_are_clear_errors():
    scores, train, test = random_problem(0)
    with pytest.raises(MarginRankError, match="same shape"):
        topk_metrics(scores, train, test[:, :10], (5,))
    with pytest.raises(MarginRankError, match="between 1 and the number of items"):
        topk_metrics(scores, train, test, (500,))
    with pytest.raises(MarginRankError, match="similarity"):
        evaluate_embeddings(scores, scores.T, train, test, (5,), "euclid")
    with pytest.raises(MarginRankError, match="do not match"):
        evaluate_embeddings(np.ones((3, 2)), np.ones((50, 2)), train, test)


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"ks": (0, 10)}, r"ks must be one or more integers >= 1, got \[0, 10\]"),
        ({"ks": ()}, "ks must be one or more integers >= 1"),
        ({"ks": 10}, r"ks must be a list of cut-offs, e.g. \[10\]"),
        ({"ks": (10.0,)}, "ks must be one or more integers"),
        ({"chunk_size": 0}, "chunk_size must be an integer >= 1, got 0"),
        ({"metrics": "recall"}, "metrics must be a list of names"),
        ({"seed": 1.5}, "the tie-breaking seed must be an integer"),
    ],
)
def test_bad_options_are_clear_errors(arguments, message):
    scores, train, test = random_problem(0)
    with pytest.raises(MarginRankError, match=message):
        topk_metrics(scores, train, test, **{"ks": (5,), **arguments})


def test_a_diverged_model_is_an_error_not_a_zero_score():
    scores, train, test = random_problem(1)
    users, items = np.random.default_rng(0).normal(size=(60, 4)), np.random.default_rng(1).normal(size=(50, 4))
    items[7, 2] = np.nan
    with pytest.raises(MarginRankError, match="item_emb holds NaN or infinite values"):
        evaluate_embeddings(users, items, train, test)
    scores[3, 3] = np.nan
    with pytest.raises(MarginRankError, match="scores hold NaN"):
        topk_metrics(scores, train, test)
    scores[3, 3] = -np.inf  # an excluded item is fine
    assert topk_metrics(scores, train, test, (5,))["recall@5"] >= 0


def test_popularity_baseline_ranks_by_training_counts():
    train = sp.csr_matrix(np.array([[1, 1, 0, 0], [1, 0, 0, 0], [1, 1, 1, 0]], dtype=np.float32))
    test = sp.csr_matrix(np.array([[0, 0, 1, 0], [0, 1, 0, 0], [0, 0, 0, 1]], dtype=np.float32))
    # user 0 gets item 2 first (count 1 > 0): hit; user 1 gets item 1 first: hit; user 2 only has item 3 left
    assert evaluate_popularity(train, test, (1,))["recall@1"] == 1.0


def test_accepts_torch_tensors():
    scores, train, test = random_problem(3)
    assert topk_metrics(torch.tensor(scores), train, test)["recall@20"] == pytest.approx(
        topk_metrics(scores, train, test)["recall@20"]
    )


def with_stored_zeros(matrix, rows, cols):
    """``matrix`` plus explicit 0 entries at (rows, cols), kept in the CSR structure."""
    coo = matrix.tocoo()
    data = np.concatenate([coo.data, np.zeros(len(rows))])
    stored = sp.csr_matrix((data, (np.concatenate([coo.row, rows]), np.concatenate([coo.col, cols]))), shape=matrix.shape)
    assert stored.nnz == matrix.nnz + len(rows)  # the zeros really are stored
    return stored


def test_stored_zeros_are_no_interactions():
    scores, train, test = random_problem(2)
    free = np.argwhere((train.toarray() == 0) & (test.toarray() == 0))[:40]
    rows, cols = free[:, 0], free[:, 1]
    plain = topk_metrics(scores, train, test, (5, 10))
    stored = topk_metrics(scores, with_stored_zeros(train, rows[:20], cols[:20]), with_stored_zeros(test, rows[20:], cols[20:]), (5, 10))
    assert plain == stored


def popularity_problem(seed, n_users=80, n_items=40):
    """Counts with many ties, and users whose training items reach deep into the popular head."""
    rng = np.random.default_rng(seed)
    dense = rng.random((n_users, n_items)) < rng.uniform(0.02, 0.6, size=(n_users, 1))
    train = sp.csr_matrix(dense.astype(np.float32))
    test = sp.csr_matrix(((rng.random((n_users, n_items)) < 0.2) & ~dense).astype(np.float32))
    return train, test


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("ties", ["random", "pessimistic"])
def test_popularity_equals_ranking_the_whole_catalogue_by_counts(seed, ties):
    train, test = popularity_problem(seed)
    counts = np.asarray(train.sum(axis=0)).ravel()
    dense = np.tile(counts, (train.shape[0], 1))
    for chunk_size in (1, 7, 2048):
        assert evaluate_popularity(train, test, (1, 5, 10), ties=ties, seed=seed, chunk_size=chunk_size) == pytest.approx(
            topk_metrics(dense, train, test, (1, 5, 10), ties=ties, seed=seed, chunk_size=chunk_size), abs=1e-12
        )


def test_popularity_scores_only_the_head_of_the_catalogue(monkeypatch):
    train, test = popularity_problem(0, n_users=50, n_items=400)
    widths = []
    hits = FullRanker.hits

    def spy(self, users, scores, columns=None):
        widths.append(scores.shape[1])
        return hits(self, users, scores, columns)

    monkeypatch.setattr(FullRanker, "hits", spy)
    evaluate_popularity(train, test, (5,), chunk_size=10)
    assert int(np.diff(train.indptr).max()) + 5 + 1 < 400  # the head is narrower than the catalogue
    assert widths and max(widths) < 400
