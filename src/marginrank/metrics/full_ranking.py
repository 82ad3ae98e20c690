"""Exact full-ranking evaluation: score every item for every test user, mask the user's training
items, take the top K, and average the metrics of :mod:`marginrank.metrics.ranking` over the users
that have test items.

Ties are never broken by item index: by default at random per (user, item) with a seed, or
pessimistically (test items after the other tied items), so a constant model scores at chance (or
zero) and the result does not depend on the chunk size. Only the hit matrix of a chunk of users is
kept, never the whole score matrix.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch
import torch.nn.functional as F

from marginrank.checks import require_integer
from marginrank.errors import MarginRankError
from marginrank.metrics.ranking import METRIC_NAMES, METRICS
from marginrank.metrics.top_k import top_k

ArrayLike = np.ndarray | torch.Tensor
ScoredRows = tuple[torch.Tensor, torch.Tensor | None]
"""A chunk's score rows and the items of their columns (None: every item, in index order)."""
ALIGNED = 16
"""Score rows are computed a multiple of this many floats wide (64 bytes, a cache line), zero past the last item."""


class MetricSums:
    """Running sums of per-user metrics at several cut-offs; ``result()`` gives the means."""

    def __init__(self, ks: Sequence[int], metrics: Sequence[str] = METRIC_NAMES) -> None:
        if isinstance(metrics, str):
            raise MarginRankError(f"metrics must be a list of names, e.g. [{metrics!r}], got the string {metrics!r}")
        unknown = set(metrics) - set(METRICS)
        if unknown:
            raise MarginRankError(f"unknown metric(s) {sorted(unknown)}; known: {list(METRICS)}")
        self.ks = tuple(sorted(set(cut_offs(ks))))
        self.metrics = tuple(metrics)
        self.sums = {f"{name}@{k}": 0.0 for name in self.metrics for k in self.ks}
        self.n_users = 0

    def add(self, hits: np.ndarray, n_relevant: np.ndarray) -> None:
        """Add users' hit rows; users without test items (n_relevant == 0) are skipped."""
        has_test = n_relevant > 0
        hits, n_relevant = hits[has_test], n_relevant[has_test]
        self.n_users += len(n_relevant)
        for name in self.metrics:
            for k in self.ks:
                self.sums[f"{name}@{k}"] += float(METRICS[name](hits, n_relevant, k).sum())

    def result(self) -> dict[str, float]:
        if self.n_users == 0:
            raise MarginRankError("no user has test items: nothing to evaluate")
        return {key: value / self.n_users for key, value in self.sums.items()}


def cut_offs(ks: Sequence[int]) -> tuple[int, ...]:
    """``ks`` as a tuple of positive integers; anything else is a clear error."""
    if isinstance(ks, (str, bytes)) or not isinstance(ks, Iterable):
        raise MarginRankError(f"ks must be a list of cut-offs, e.g. [{ks!r}], got {ks!r}")
    ks = tuple(ks)
    if not ks or not all(isinstance(k, Integral) and not isinstance(k, bool) and k >= 1 for k in ks):
        raise MarginRankError(f"ks must be one or more integers >= 1, got {list(ks)}")
    return tuple(int(k) for k in ks)


_MASK40 = (1 << 40) - 1
_MIX1 = 0xBF58476D1CE4E5B9 - (1 << 64)  # splitmix64 constants as signed int64
_MIX2 = 0x94D049BB133111EB - (1 << 64)


def _hash(keys: torch.Tensor) -> torch.Tensor:
    """A splitmix64-style integer hash of int64 keys (wrapping arithmetic), reduced to 40 bits."""
    keys = (keys ^ (keys >> 30)) * _MIX1
    keys = (keys ^ (keys >> 27)) * _MIX2
    return (keys ^ (keys >> 31)) & _MASK40


class FullRanker:
    """Turns rows of scores into rows of hits at positions 1..k_max.

    ``train`` rows are masked (never recommended); ``test`` rows are the relevant items. Ties are
    broken per (user, item) by a seeded hash (``ties="random"``), or with the test items placed
    after the other tied items (``ties="pessimistic"``). Either way the result is exact and the
    same for any chunking of the users.
    """

    def __init__(
        self, train: sp.spmatrix, test: sp.spmatrix, k_max: int, *, seed: int = 0, ties: str = "random"
    ) -> None:
        train, test = _as_csr(train, "train"), _as_csr(test, "test")
        if train.shape != test.shape:
            raise MarginRankError(f"train {train.shape} and test {test.shape} must have the same shape")
        if ties not in ("random", "pessimistic"):
            raise MarginRankError(f"ties must be 'random' or 'pessimistic', got {ties!r}")
        if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed < 2**63:
            raise MarginRankError(f"the tie-breaking seed must be an integer in 0 .. 2**63 - 1, got {seed!r}")
        self.n_users, self.n_items = train.shape
        if not 1 <= k_max <= self.n_items:
            raise MarginRankError(f"k must be between 1 and the number of items ({self.n_items}), got {k_max}")
        self.k_max, self.ties, self.seed = k_max, ties, seed
        self.train, self.test = train, test
        self.test_keys = torch.from_numpy(_row_keys(test))
        self.n_relevant = np.diff(test.indptr)

    def users_to_evaluate(self) -> np.ndarray:
        return np.flatnonzero(self.n_relevant > 0)

    def _is_test(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Whether each (user, item) is a test pair; ``users`` broadcasts against ``items``."""
        keys = users * self.n_items + items
        if len(self.test_keys) == 0:
            return torch.zeros_like(keys, dtype=torch.bool)
        found = torch.searchsorted(self.test_keys, keys).clamp_(max=len(self.test_keys) - 1)
        return self.test_keys[found] == keys

    def _tie_key(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Order among equal scores, ascending: a hash of (seed, user, item); test items last if pessimistic."""
        key = _hash((users * self.n_items + items) * 0x9E3779B1 + self.seed)
        if self.ties == "pessimistic":
            key = key + (self._is_test(users, items).long() << 40)
        return key

    def hits(
        self, users: np.ndarray, scores: torch.Tensor, columns: torch.Tensor | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Hit rows of ``users`` given their scores (modified in place).

        ``scores`` is ``[len(users), n_items]``, or ``[len(users), len(columns)]`` where ``columns``
        names the items of its columns: a subset that must hold every item able to enter a top k,
        with all the items tied with any of those. The scores may live on any device; only the top
        ``k + 1`` of each row come back to the CPU.
        """
        user_index = torch.from_numpy(users.astype(np.int64))
        rows = self.train[users]
        row_index = np.repeat(np.arange(len(users)), np.diff(rows.indptr))
        seen = rows.indices.astype(np.int64)
        if columns is not None:
            position = np.full(self.n_items, -1, dtype=np.int64)
            position[columns.numpy()] = np.arange(len(columns))
            seen = position[seen]
            row_index, seen = row_index[seen >= 0], seen[seen >= 0]
        scores[torch.from_numpy(row_index).to(scores.device), torch.from_numpy(seen).to(scores.device)] = -torch.inf
        k = self.k_max
        values, items = (t.cpu() for t in top_k(scores, min(k + 1, scores.shape[1])))
        if values.shape[1] > k:
            # a tie across the cut-off: choose which tied items enter the top k by the tie key
            boundary = values[:, k - 1]
            crossing = torch.nonzero((values[:, k] == boundary) & torch.isfinite(boundary)).flatten()
            values, items = values[:, :k].clone(), items[:, :k].clone()
            if len(crossing):
                values[crossing], items[crossing] = self._top_with_ties(
                    user_index[crossing], scores[crossing.to(scores.device)].cpu(), boundary[crossing], columns
                )
        if columns is not None:
            items = columns[items]
        # order within the top k: score descending, then the tie key
        key_order = torch.argsort(self._tie_key(user_index[:, None], items), dim=1, stable=True)
        values, items = values.gather(1, key_order), items.gather(1, key_order)
        score_order = torch.argsort(-values, dim=1, stable=True)
        values, items = values.gather(1, score_order), items.gather(1, score_order)
        hit = self._is_test(user_index[:, None], items) & torch.isfinite(values)
        return hit.numpy(), self.n_relevant[users]

    def _top_with_ties(
        self, users: torch.Tensor, scores: torch.Tensor, boundary: torch.Tensor, columns: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Top k (as column positions) where the items tied at ``boundary`` are taken in tie-key
        order (the key is computed for the tied items only)."""
        k = self.k_max
        above_rows, above_items = torch.nonzero(scores > boundary[:, None], as_tuple=True)
        tied_rows, tied_items = torch.nonzero(scores == boundary[:, None], as_tuple=True)
        tied_ids = tied_items if columns is None else columns[tied_items]
        by_key = torch.argsort(self._tie_key(users[tied_rows], tied_ids), stable=True)
        by_row = by_key[torch.argsort(tied_rows[by_key], stable=True)]
        tied_rows, tied_items = tied_rows[by_row], tied_items[by_row]
        rank_in_row = torch.arange(len(tied_rows)) - torch.searchsorted(tied_rows, tied_rows)
        slots = k - torch.bincount(above_rows, minlength=len(users))
        take = rank_in_row < slots[tied_rows]
        rows = torch.cat([above_rows, tied_rows[take]])
        items = torch.cat([above_items, tied_items[take]])[torch.argsort(rows, stable=True)].view(len(users), k)
        return scores.gather(1, items), items


def _as_csr(matrix, name: str) -> sp.csr_matrix:
    if not sp.issparse(matrix):
        raise MarginRankError(f"{name} must be a scipy sparse users x items matrix, got {type(matrix).__name__}")
    matrix = sp.csr_matrix(matrix, copy=True)
    matrix.sum_duplicates()
    matrix.eliminate_zeros()  # a stored 0 is no interaction, as in the samplers' exclusion sets
    matrix.sort_indices()
    return matrix


def _row_keys(matrix: sp.csr_matrix) -> np.ndarray:
    """Sorted keys ``user * n_items + item`` of the stored entries."""
    users = np.repeat(np.arange(matrix.shape[0], dtype=np.int64), np.diff(matrix.indptr))
    return users * matrix.shape[1] + matrix.indices.astype(np.int64)


def _as_tensor(values: ArrayLike, name: str) -> torch.Tensor:
    """A float32 2-D tensor on the device the values already live on (CPU for numpy)."""
    tensor = torch.as_tensor(values).detach()
    if tensor.ndim != 2:
        raise MarginRankError(f"{name} must be 2-D, got shape {tuple(tensor.shape)}")
    return tensor.to(torch.float32)


def _embeddings(values: ArrayLike, name: str) -> torch.Tensor:
    """Like :func:`_as_tensor`; a NaN or infinite entry (a diverged model) is an error, not a 0 score."""
    tensor = _as_tensor(values, name)
    if not torch.isfinite(tensor).all():
        raise MarginRankError(f"{name} holds NaN or infinite values: the model diverged, nothing to rank")
    return tensor


def topk_metrics(
    scores: ArrayLike,
    train: sp.spmatrix,
    test: sp.spmatrix,
    ks: Sequence[int] = (20,),
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    seed: int = 0,
    ties: str = "random",
    chunk_size: int = 1024,
) -> dict[str, float]:
    """Metrics of a dense ``[n_users, n_items]`` score matrix under full ranking.

    Keys are ``"recall@20"``, ``"ndcg@20"``, ``"precision@20"``, ``"hit@20"``, ``"mrr@20"``,
    ``"map@20"`` (one per metric and k), averaged over users with at least one test item.
    """
    scores = _as_tensor(scores, "scores")
    if torch.isnan(scores).any():
        raise MarginRankError("scores hold NaN: rank with -inf for excluded items, and check the model for divergence")
    ranker = FullRanker(train, test, max(cut_offs(ks)), seed=seed, ties=ties)
    if tuple(scores.shape) != (ranker.n_users, ranker.n_items):
        raise MarginRankError(f"scores shape {tuple(scores.shape)} differs from train {ranker.train.shape}")
    return _sum_over_chunks(
        ranker, lambda chunk: (scores[torch.from_numpy(chunk).to(scores.device)], None), ks, metrics, chunk_size
    ).result()


def evaluate_embeddings(
    user_emb: ArrayLike,
    item_emb: ArrayLike,
    train: sp.spmatrix,
    test: sp.spmatrix,
    ks: Sequence[int] = (20,),
    similarity: str = "dot",
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    seed: int = 0,
    ties: str = "random",
    chunk_size: int = 2048,
    users: np.ndarray | None = None,
) -> dict[str, float]:
    """Full-ranking metrics of score = ``user_emb @ item_emb.T`` (``"dot"``) or of cosine similarity,
    computed in chunks of ``chunk_size`` users (memory ~ chunk_size x n_items floats).

    ``users`` restricts the evaluation to a subset (e.g. one rank's share in distributed runs).
    """
    return evaluate_embeddings_sums(
        user_emb, item_emb, train, test, ks, similarity,
        metrics=metrics, seed=seed, ties=ties, chunk_size=chunk_size, users=users,
    ).result()


def evaluate_embeddings_sums(
    user_emb: ArrayLike,
    item_emb: ArrayLike,
    train: sp.spmatrix,
    test: sp.spmatrix,
    ks: Sequence[int] = (20,),
    similarity: str = "dot",
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    seed: int = 0,
    ties: str = "random",
    chunk_size: int = 2048,
    users: np.ndarray | None = None,
) -> MetricSums:
    """Like :func:`evaluate_embeddings`, returning the un-averaged sums (to merge across processes)."""
    user_emb, item_emb = _embeddings(user_emb, "user_emb"), _embeddings(item_emb, "item_emb")
    if similarity == "cosine":
        user_emb, item_emb = F.normalize(user_emb, dim=1), F.normalize(item_emb, dim=1)
    elif similarity != "dot":
        raise MarginRankError(f"similarity must be 'dot' or 'cosine', got {similarity!r}")
    ranker = FullRanker(train, test, max(cut_offs(ks)), seed=seed, ties=ties)
    if user_emb.shape[0] != ranker.n_users or item_emb.shape[0] != ranker.n_items:
        raise MarginRankError(
            f"embeddings ({user_emb.shape[0]} users, {item_emb.shape[0]} items) do not match "
            f"the interactions ({ranker.n_users} users, {ranker.n_items} items)"
        )
    if user_emb.shape[1] != item_emb.shape[1]:
        raise MarginRankError(f"user and item embeddings differ in width: {user_emb.shape[1]} vs {item_emb.shape[1]}")
    n_items = ranker.n_items
    # zero columns up to a whole cache line: a product whose rows are an odd number of floats long
    # runs at half speed (Gowalla's 40,981 items, 64 wide: 2.4 s for all users, 1.1 s at 40,992)
    item_columns = user_emb.new_zeros(item_emb.shape[1], -(-n_items // ALIGNED) * ALIGNED)
    item_columns[:, :n_items] = item_emb.T
    # one score buffer for every chunk: a fresh [chunk, n_items] block each time (hundreds of MiB)
    # is served by fresh pages, and filling them cost as much as the product itself
    buffer = user_emb.new_empty(0, item_columns.shape[1])

    def score_rows(chunk: np.ndarray) -> ScoredRows:
        nonlocal buffer
        if buffer.shape[0] < len(chunk):
            buffer = buffer.new_empty(len(chunk), item_columns.shape[1])
        rows = torch.from_numpy(chunk).to(user_emb.device)
        return torch.mm(user_emb[rows], item_columns, out=buffer[: len(chunk)])[:, :n_items], None

    return _sum_over_chunks(ranker, score_rows, ks, metrics, chunk_size, users)


def evaluate_scorer_sums(
    score_all: Callable[[torch.Tensor], torch.Tensor],
    train: sp.spmatrix,
    test: sp.spmatrix,
    ks: Sequence[int] = (20,),
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    seed: int = 0,
    ties: str = "random",
    chunk_size: int = 2048,
    users: np.ndarray | None = None,
) -> MetricSums:
    """Full-ranking metric sums of any scorer: ``score_all(users [C]) -> [C, n_items]`` per chunk of users."""
    ranker = FullRanker(train, test, max(cut_offs(ks)), seed=seed, ties=ties)

    def score_rows(chunk: np.ndarray) -> ScoredRows:
        scores = torch.as_tensor(score_all(torch.from_numpy(chunk))).to(torch.float32)
        if tuple(scores.shape) != (len(chunk), ranker.n_items):
            raise MarginRankError(f"the scorer gave {tuple(scores.shape)} scores for {len(chunk)} users x {ranker.n_items} items")
        return scores, None

    return _sum_over_chunks(ranker, score_rows, ks, metrics, chunk_size, users)


def _sum_over_chunks(
    ranker: FullRanker,
    score_rows: Callable[[np.ndarray], ScoredRows],
    ks: Sequence[int],
    metrics: Sequence[str],
    chunk_size: int,
    users: np.ndarray | None = None,
) -> MetricSums:
    """Metric sums over the test users (optionally only ``users``), ``chunk_size`` score rows at a time:
    ``score_rows(chunk)`` gives the chunk's scores and the items of their columns (None: all items)."""
    require_integer("chunk_size", chunk_size, 1)
    evaluated = ranker.users_to_evaluate()
    if users is not None:
        evaluated = np.intersect1d(evaluated, np.asarray(users, dtype=np.int64))
    sums = MetricSums(ks, metrics)
    with torch.no_grad():
        for start in range(0, len(evaluated), chunk_size):
            chunk = evaluated[start : start + chunk_size]
            sums.add(*ranker.hits(chunk, *score_rows(chunk)))
    return sums


def popularity_scores(train: sp.spmatrix) -> np.ndarray:
    """Each item's number of training interactions: the popularity baseline's score, same for every user."""
    return np.asarray(_as_csr(train, "train").getnnz(axis=0), dtype=np.float32)


def evaluate_popularity(
    train: sp.spmatrix,
    test: sp.spmatrix,
    ks: Sequence[int] = (20,),
    *,
    metrics: Sequence[str] = METRIC_NAMES,
    seed: int = 0,
    ties: str = "random",
    chunk_size: int = 2048,
) -> dict[str, float]:
    """Full-ranking metrics of recommending the most popular unseen items to everyone.

    Every user ranks the items in the same order, so only its head is scored: for a chunk of users,
    the ``k + 1 + (most training items of one of them)`` most popular items and the items tied with
    the last of those. Each user has more than k unseen items there, and every item outside is less
    popular than all of them, so the result is that of ranking the whole catalogue.
    """
    ranker = FullRanker(train, test, max(cut_offs(ks)), seed=seed, ties=ties)
    counts = popularity_scores(ranker.train)
    order = np.argsort(-counts, kind="stable")
    ascending = -counts[order]
    head_scores = torch.from_numpy(counts[order])
    n_seen = np.diff(ranker.train.indptr)

    def score_rows(chunk: np.ndarray) -> ScoredRows:
        needed = min(ranker.k_max + 1 + int(n_seen[chunk].max()), ranker.n_items)
        width = int(np.searchsorted(ascending, ascending[needed - 1], side="right"))
        return head_scores[:width].repeat(len(chunk), 1), torch.from_numpy(order[:width])

    return _sum_over_chunks(ranker, score_rows, ks, metrics, chunk_size).result()
