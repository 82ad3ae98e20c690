"""Matrix factorization with cosine or dot-product scores, as in the MF of SimpleX and MMCL."""

from __future__ import annotations

from typing import Self

import scipy.sparse as sp
import torch
from torch import Tensor, nn

from marginrank.checks import require_choice, require_fraction, require_positive
from marginrank.errors import MarginRankError
from marginrank.models.base import (
    RANKING_SIMILARITIES,
    SIMILARITIES,
    EmbeddingModel,
    check_batch,
    guarded,
    project,
    require_size,
)
from marginrank.models.dropout import Dropout
from marginrank.models.implicit_als import als_start
from marginrank.models.normalization import NormalizedLookup
from marginrank.models.pooled_scores import PRECISIONS, PooledItemScores, product_dtype
from marginrank.models.spectral_init import lift_cosines, low_pass_factors

INITS = ("normal", "svd", "als")


class MF(EmbeddingModel):
    """Score ``s(u, i) = <f(e_u), f(e_i)>`` with ``f`` = L2 normalization (``"cosine"``) or identity (``"dot"``).

    Source: the MF model of SimpleX (Mao et al., CIKM 2021) and of the MMCL code (github.com/mgulcin/mmcl):
    embeddings initialised N(0, init_std^2) with init_std 1e-4, L2-normalized when the similarity is
    cosine, and dropout (rate ``dropout``) on the normalized user vector in training mode only
    (:class:`marginrank.models.dropout.Dropout`: on a CPU the rate is rounded to a multiple of 2^-16).
    The BSL authors' MF (github.com/junkangwu/BSL ``modules/MF_Frame.py``) drops coordinates of the raw
    user vector and normalizes afterwards (``dropout_before_norm=True``): the training scores stay
    cosines, so the softmax temperature means what it means at evaluation. Dropout after the
    normalization scales the user vector by about ``1/sqrt(1 - p)`` (1.054 at p = 0.1).

    Args:
        n_users, n_items: table sizes.
        dim: embedding width [64].
        similarity: ``"cosine"`` [default] or ``"dot"``.
        ranking_similarity: the score evaluation and ``recommend`` rank by: ``"same"`` [default: the
            training score], ``"cosine"`` or ``"dot"`` (see :class:`~marginrank.models.base.EmbeddingModel`).
        dropout: embedding dropout on the user vector, training mode only [0.0; SimpleX/MMCL use 0.1].
        dropout_before_norm: drop coordinates of the raw user vector, then normalize [False: dropout
            on the normalized vector, as in SimpleX/MMCL]. The same thing for ``"dot"``.
        init_std: standard deviation of the normal init [1e-4]; the caller seeds torch.
        sparse: ``nn.Embedding(sparse=True)`` tables, for row-wise updates (``RowAdam``, lazy Adam).
        score_precision: precision of the training products with shared or grouped pools: ``"auto"``
            [default: bfloat16 on a CPU that multiplies it natively, else float32], ``"float32"`` or
            ``"bfloat16"`` (:mod:`marginrank.models.pooled_scores`). Evaluation is always float32.

    Example:
        >>> import torch
        >>> _ = torch.manual_seed(0)
        >>> model = MF(3, 5, dim=4).eval()
        >>> pos, neg = model(torch.tensor([0, 2]), torch.tensor([1, 4]), torch.tensor([0, 2, 3]))
        >>> pos.shape, neg.shape                      # a pool of 3 negatives shared by the batch
        (torch.Size([2]), torch.Size([2, 3]))
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 64,
        *,
        similarity: str = "cosine",
        ranking_similarity: str = "same",
        dropout: float = 0.0,
        dropout_before_norm: bool = False,
        init_std: float = 1e-4,
        sparse: bool = False,
        score_precision: str = "auto",
    ) -> None:
        super().__init__()
        for name, value in (("n_users", n_users), ("n_items", n_items), ("dim", dim)):
            require_size(name, value)
        require_choice("similarity", similarity, SIMILARITIES)
        dropout = require_fraction("dropout", dropout, include_zero=True)
        init_std = require_positive("init_std", init_std)
        self.n_users, self.n_items, self.dim = n_users, n_items, dim
        self.similarity = similarity
        self.ranking_similarity = require_choice("ranking_similarity", ranking_similarity, RANKING_SIMILARITIES)
        self.score_precision = require_choice("score_precision", score_precision, PRECISIONS)
        self.user_embedding = nn.Embedding(n_users, dim, sparse=sparse)
        self.item_embedding = nn.Embedding(n_items, dim, sparse=sparse)
        nn.init.normal_(self.user_embedding.weight, std=init_std)
        nn.init.normal_(self.item_embedding.weight, std=init_std)
        self.dropout = Dropout(dropout)
        self.dropout_before_norm = dropout_before_norm

    @classmethod
    def build(cls, pairs: sp.csr_matrix, *, init: str = "als", start_cosine: float = 0.0, **settings: object) -> Self:
        """An MF with one row per user and item of ``pairs``, started from a closed-form recommender
        of ``pairs`` added to the normal init (seeded by torch), so that training starts from its ranking:
        ``init = "als"`` [default] a few sweeps of implicit-feedback ALS from the low-pass items
        (:func:`marginrank.models.implicit_als.als_start`), ``"svd"`` the low-pass filter alone
        (:mod:`marginrank.models.spectral_init`); ``"normal"`` starts from the normal init alone, as
        SimpleX and MMCL do. ``start_cosine`` in [0, 1) lifts the start's cosines to ``start_cosine +
        (1 - start_cosine) * cos`` in one of its ``dim`` columns, keeping its ranking
        (:func:`~marginrank.models.spectral_init.lift_cosines`): unrelated pairs then start near
        ``start_cosine``."""
        require_choice("init", init, INITS)
        lifted = require_fraction("start_cosine", start_cosine, include_zero=True) > 0
        model = cls(*pairs.shape, **settings)
        if lifted and (init == "normal" or model.dim < 3):
            raise MarginRankError(f"start_cosine lifts a closed-form start of dim 3 or more; got init {init!r}, dim {model.dim}")
        if init != "normal":
            seed = int(torch.randint(0, 2**31 - 1, ()).item())
            start = als_start if init == "als" else low_pass_factors
            users, items = start(pairs, model.dim - lifted, seed)
            if lifted:
                users, items = lift_cosines(users, items, start_cosine)
            with torch.no_grad():
                model.user_embedding.weight.add_(torch.from_numpy(users))
                model.item_embedding.weight.add_(torch.from_numpy(items))
        return model

    # -- vectors ---------------------------------------------------------------------------------
    def _project(self, vectors: Tensor) -> Tensor:
        return project(vectors, self.similarity)

    def _normalized(self, table: nn.Embedding, ids: Tensor, kind: str) -> Tensor:
        """``f(table[ids])``; a bad id becomes a :class:`MarginRankError` (see :func:`~marginrank.models.base.guarded`)."""
        cosine = self.similarity == "cosine"
        return guarded(
            kind, table.num_embeddings, (ids,), lambda: NormalizedLookup.apply(table.weight, ids, cosine, table.sparse)
        )

    def user_vectors(self, users: Tensor) -> Tensor:
        """``f(e_u)`` for the given users, with dropout (in training mode) after ``f`` or before it."""
        if self.dropout_before_norm and self.training:
            raw = guarded("user", self.n_users, (users,), lambda: self.user_embedding(users))
            return self._project(self.dropout(raw))
        return self.dropout(self._normalized(self.user_embedding, users, "user"))

    def item_vectors(self, items: Tensor) -> Tensor:
        """``f(e_i)`` for the given items."""
        return self._normalized(self.item_embedding, items, "item")

    # -- training --------------------------------------------------------------------------------
    def forward(self, users: Tensor, pos_items: Tensor, neg_items: Tensor) -> tuple[Tensor, Tensor]:
        """``(pos_scores [B], neg_scores [B, N])``.

        ``neg_items`` ``[N]`` is a pool shared by the batch, scored by one ``[B, d] x [d, N]`` product;
        ``[G, N]`` with G < B gives one pool to each group of ``ceil(B / G)`` consecutive rows (a
        batched product); ``[B, N]`` holds per-example negatives. Only the rows used are looked up
        and normalized. The item side runs through :class:`PooledItemScores`, whose backward costs
        what the loss's gradient touches (few entries for a margin loss).
        """
        check_batch(users, pos_items, neg_items)
        user = self.user_vectors(users)
        cosine, sparse = self.similarity == "cosine", self.item_embedding.sparse
        dtype = product_dtype(self.score_precision, user.device)
        return guarded(
            "item", self.n_items, (pos_items, neg_items),
            lambda: PooledItemScores.apply(user, self.item_embedding.weight, pos_items, neg_items, cosine, sparse, dtype),
        )

    def regularization(self, users: Tensor, pos_items: Tensor, neg_items: Tensor) -> Tensor:
        """``0.5 * sum ||e||^2`` over the raw (unnormalized) embedding rows this batch looks up.

        A row counts once per occurrence: a user twice in the batch counts twice, a shared pool
        ``[N]`` counts each pool entry once (not once per example), per-example negatives ``[B, N]``
        count every entry. The trainer multiplies by its L2 weight (and divides by the batch size
        if it wants a per-example value). RecBox instead adds ``(lambda / 2) ||E||^2`` of whole tables.
        """
        user_rows = self.user_embedding(users)
        item_rows = self.item_embedding(torch.cat([pos_items.reshape(-1), neg_items.reshape(-1)]))
        return 0.5 * (user_rows.pow(2).sum() + item_rows.pow(2).sum())

    # -- evaluation ------------------------------------------------------------------------------
    def user_factors(self, similarity: str | None = None) -> Tensor:
        """``[n_users, d]`` vectors whose dot product with :meth:`item_factors` is the ranking score, or
        the score under ``similarity`` (a detached copy)."""
        with torch.no_grad():
            return project(self.user_embedding.weight, self.factor_similarity(similarity)).detach().clone()

    def item_factors(self, similarity: str | None = None) -> Tensor:
        """``[n_items, d]``, normalized when the similarity asked for is cosine (a detached copy)."""
        with torch.no_grad():
            return project(self.item_embedding.weight, self.factor_similarity(similarity)).detach().clone()

    def extra_repr(self) -> str:
        return (
            f"n_users={self.n_users}, n_items={self.n_items}, dim={self.dim}, "
            f"similarity={self.similarity!r}, ranking_similarity={self.ranking_similarity!r}, dropout={self.dropout.p}, "
            f"dropout_before_norm={self.dropout_before_norm}, score_precision={self.score_precision!r}"
        )

