"""The contracts a recommender model meets, and the full-ranking methods every embedding model shares.

- :class:`PairScorer`: ``model(users [B], pos_items [B], neg_items) -> (pos [B], neg [B, N])`` and
  ``regularization(users, pos_items, neg_items)``: what a training task calls.
- :class:`FactorScorer`: ``user_factors() [n_users, d]`` and ``item_factors() [n_items, d]`` whose dot
  product is the ranking score: what evaluation, collapse checks and export read;
  ``user_factors(similarity)`` gives them under another similarity (top-K thresholds ask for the
  training score's).
- :class:`ChunkScorer`: ``score_all(users [B]) -> [B, n_items]``: the least a model needs for
  full-ranking evaluation and ``recommend``.

:class:`EmbeddingModel` implements ``score_all`` and ``recommend`` from the factors; a new model
subclasses it, implements the rest and a ``build(pairs, ...)`` class method, and takes one line in
:mod:`marginrank.models.registry`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, Self, TypeVar, runtime_checkable

import scipy.sparse as sp
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from marginrank.checks import require_choice
from marginrank.errors import MarginRankError
from marginrank.sampling.layout import rows_per_pool

T = TypeVar("T")
SIMILARITIES = ("cosine", "dot")
RANKING_SIMILARITIES = ("same", *SIMILARITIES)


@runtime_checkable
class PairScorer(Protocol):
    """Scores a batch of users against their positive items and pools of negatives."""

    n_users: int
    n_items: int

    def __call__(self, users: Tensor, pos_items: Tensor, neg_items: Tensor) -> tuple[Tensor, Tensor]: ...

    def regularization(self, users: Tensor, pos_items: Tensor, neg_items: Tensor) -> Tensor: ...


@runtime_checkable
class FactorScorer(Protocol):
    """A model whose score is the dot product of a user row and an item row; ``similarity``
    (``"cosine"`` or ``"dot"``) asks for the rows under that similarity instead of the model's
    ranking similarity."""

    similarity: str

    def user_factors(self, similarity: str | None = None) -> Tensor: ...

    def item_factors(self, similarity: str | None = None) -> Tensor: ...


@runtime_checkable
class ChunkScorer(Protocol):
    """A model that scores a chunk of users against every item (evaluation semantics)."""

    n_items: int

    def score_all(self, users: Tensor) -> Tensor: ...


class EmbeddingModel(nn.Module):
    """Base of the registered models: ``n_users`` x ``n_items`` scores from user and item factors.

    Subclasses implement ``forward`` and ``regularization`` (:class:`PairScorer`), ``user_factors``
    and ``item_factors`` (:class:`FactorScorer`) and ``build``.

    ``similarity`` is the training score; ``ranking_similarity`` the score that evaluation,
    ``score_all`` and ``recommend`` rank by: ``"same"`` (the training score), ``"cosine"`` or
    ``"dot"``. Ranking a cosine-trained model by the dot product of its raw vectors adds each
    item's norm, which training leaves free, to its score: the BSL authors' LightGCN runs
    (github.com/junkangwu/BSL, ``generate_mode = "no_cosine"``) train on cosines against in-batch
    negatives and rank by the dot product.
    """

    n_users: int
    n_items: int
    similarity: str
    ranking_similarity: str = "same"

    def factor_similarity(self, similarity: str | None = None) -> str:
        """``similarity`` if given, else the similarity the model ranks by."""
        if similarity is not None:
            return require_choice("similarity", similarity, SIMILARITIES)
        return self.similarity if self.ranking_similarity == "same" else self.ranking_similarity

    @classmethod
    def build(cls, pairs: sp.csr_matrix, **settings: object) -> Self:
        """The model for the training pairs ``pairs`` (users x items), with its settings."""
        raise NotImplementedError

    def user_factors(self, similarity: str | None = None) -> Tensor:
        raise NotImplementedError

    def item_factors(self, similarity: str | None = None) -> Tensor:
        raise NotImplementedError

    @torch.no_grad()
    def score_all(self, users: Tensor) -> Tensor:
        """``[B, n_items]`` scores of every item, eval semantics (no dropout) whatever the mode."""
        users = self._check_users(users)
        return self.user_factors()[users] @ self.item_factors().T

    @torch.no_grad()
    def recommend(self, users: Tensor, k: int, exclude: sp.spmatrix | None = None) -> tuple[Tensor, Tensor]:
        """Top-``k`` items per user, ``(items [B, k], scores [B, k])``, best first.

        Items in row ``u`` of ``exclude`` (e.g. the training matrix) are never returned; a user with
        fewer than ``k`` other items gets the remaining slots filled with item ``-1`` and score ``-inf``.
        """
        if not isinstance(k, int) or not 1 <= k <= self.n_items:
            raise MarginRankError(f"k must be an integer in 1..{self.n_items}; got {k!r}")
        users = self._check_users(users)
        scores = self.score_all(users)
        if exclude is not None:
            rows, cols = _excluded_pairs(exclude, users.cpu().numpy(), (self.n_users, self.n_items))
            scores[rows.to(scores.device), cols.to(scores.device)] = -torch.inf
        top_scores, top_items = torch.topk(scores, k, dim=1)
        top_items = torch.where(torch.isneginf(top_scores), torch.full_like(top_items, -1), top_items)
        return top_items, top_scores

    def _check_users(self, users: Tensor | list[int]) -> Tensor:
        users = torch.as_tensor(users, device=next(self.parameters()).device)
        if users.dim() != 1 or users.is_floating_point() or users.dtype == torch.bool:
            raise MarginRankError(f"users must be a 1-D integer tensor; got {users.dtype} {list(users.shape)}")
        if users.numel() and (int(users.min()) < 0 or int(users.max()) >= self.n_users):
            raise MarginRankError(f"user ids must lie in 0..{self.n_users - 1}; got values in {id_range(users)}")
        return users.long()


def project(vectors: Tensor, similarity: str) -> Tensor:
    """``f``: L2-normalize the last dim for ``"cosine"`` (``x / max(||x||, 1e-12)``), identity for ``"dot"``."""
    return F.normalize(vectors, dim=-1) if similarity == "cosine" else vectors


def check_batch(users: Tensor, pos_items: Tensor, neg_items: Tensor) -> None:
    """Refuse a training batch whose shapes do not fit: ``users`` and ``pos_items`` 1-D of one length
    ``B``; ``neg_items`` a shared pool ``[N]``, grouped pools ``[G, N]`` that can serve consecutive
    rows, or per-example negatives ``[B, N]``."""
    if users.dim() != 1 or pos_items.shape != users.shape:
        raise MarginRankError(
            f"users and pos_items must be 1-D of equal length; got {list(users.shape)} and {list(pos_items.shape)}"
        )
    batch = users.shape[0]
    if neg_items.dim() not in (1, 2) or (neg_items.dim() == 2 and neg_items.shape[0] > batch):
        raise MarginRankError(
            f"neg_items must be [N] (shared), [G, N] (one pool per group of rows) or [B, N] with "
            f"B = {batch}; got {list(neg_items.shape)}"
        )
    if neg_items.dim() == 2 and rows_per_pool(batch, neg_items) * (neg_items.shape[0] - 1) >= batch:
        raise MarginRankError(f"{neg_items.shape[0]} pools cannot serve groups of consecutive rows in a batch of {batch}")


def require_size(name: str, value: object) -> int:
    """A table size: a positive integer, else a :class:`MarginRankError` naming it."""
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise MarginRankError(f"{name} must be a positive integer; got {value!r}")
    return value


def guarded(kind: str, size: int, ids: tuple[Tensor, ...], compute: Callable[[], T]) -> T:
    """``compute()``, which indexes a table of ``size`` rows with ``ids``: a non-integer or out-of-range id
    becomes a :class:`MarginRankError`, not a torch traceback (the range is only scanned on failure)."""
    for tensor in ids:
        if tensor.dtype not in (torch.int32, torch.int64):
            raise MarginRankError(f"{kind} ids must be an integer tensor; got {tensor.dtype}")
    try:
        return compute()
    except IndexError:
        flat = torch.cat([tensor.reshape(-1) for tensor in ids])
        raise MarginRankError(f"{kind} ids must lie in 0..{size - 1}; got values in {id_range(flat)}") from None


def id_range(ids: Tensor) -> str:
    return f"{int(ids.min())}..{int(ids.max())}" if ids.numel() else "(empty)"


def _excluded_pairs(exclude: sp.spmatrix, users, shape: tuple[int, int]) -> tuple[Tensor, Tensor]:
    """``(row in batch, item)`` of every stored entry in the rows ``users`` of ``exclude``."""
    if not sp.issparse(exclude):
        raise MarginRankError(f"exclude must be a scipy sparse users x items matrix; got {type(exclude).__name__}")
    if exclude.shape != shape:
        raise MarginRankError(f"exclude has shape {exclude.shape}; the model has {shape[0]} users x {shape[1]} items")
    rows = sp.csr_matrix(exclude)[users]
    batch_rows = torch.repeat_interleave(torch.arange(len(users)), torch.from_numpy(rows.getnnz(axis=1)))
    return batch_rows, torch.from_numpy(rows.indices.astype("int64"))
