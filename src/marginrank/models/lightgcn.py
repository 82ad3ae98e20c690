"""LightGCN: embeddings smoothed over the user-item graph (He et al., SIGIR 2020)."""

from __future__ import annotations

from typing import Self

import numpy as np
import scipy.sparse as sp
import torch
from torch import Tensor, nn

from marginrank.checks import require_choice, require_fraction, require_integer, require_positive
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
from marginrank.models.normalization import NormalizedLookup
from marginrank.models.pooled_scores import PRECISIONS, PooledItemScores, product_dtype
from marginrank.models.propagation import NormalizedGraph, Propagation

GRAPH_BUFFERS = ("graph_users", "graph_items")


class LightGCN(EmbeddingModel):
    """``e = (1 / (K + 1)) sum_{k=0..K} A_hat^k e^(0)`` and ``s(u, i) = <f(e_u), f(e_i)>``.

    ``A_hat = D^-1/2 A D^-1/2`` is the symmetric-normalized graph of the training pairs (eq. 7 of the
    paper, :mod:`marginrank.models.propagation`); ``f`` is L2 normalization (``"cosine"``, as the
    BSL and Adap-tau LightGCN runs score) or identity (``"dot"``, the paper's). The graph is built
    from the pairs the model is given, which must be the pairs it trains on: under a validation
    protocol the held-out pairs are never in it. A training step propagates once over the whole
    graph and every row of the batch reads the result; outside training the propagated factors are
    kept until the weights change, so evaluation and ``recommend`` propagate once.

    The graph's pairs are buffers of the model: a saved model carries the graph it was trained on.

    Args:
        pairs: users x items training pairs (scipy sparse; values ignored).
        dim: embedding width [64].
        layers: ``K``, propagation steps [3]; 0 is MF with the same parametrization.
        similarity: ``"cosine"`` [default] or ``"dot"``.
        ranking_similarity: the score evaluation and ``recommend`` rank by: ``"same"`` [default],
            ``"cosine"`` or ``"dot"``. The BSL authors' LightGCN rows train on cosines and rank by
            ``"dot"`` (:class:`~marginrank.models.base.EmbeddingModel`).
        dropout: dropout on the user vector after ``f``, training mode only [0.0].
        init_std: standard deviation of the normal init of ``e^(0)`` [1e-4]; the caller seeds torch.
        score_precision: precision of the training products with the negatives' pools, as in
            :class:`~marginrank.models.MF` [``"auto"``].

    Example:
        >>> import scipy.sparse as sp, torch
        >>> _ = torch.manual_seed(0)
        >>> model = LightGCN(sp.csr_matrix([[1, 0, 1], [0, 1, 0]]), dim=4, layers=2)
        >>> pos, neg = model(torch.tensor([0, 1]), torch.tensor([2, 1]), torch.tensor([0, 1]))
        >>> pos.shape, neg.shape, model.user_factors().shape
        (torch.Size([2]), torch.Size([2, 2]), torch.Size([2, 4]))
    """

    def __init__(
        self,
        pairs: sp.spmatrix,
        dim: int = 64,
        *,
        layers: int = 3,
        similarity: str = "cosine",
        ranking_similarity: str = "same",
        dropout: float = 0.0,
        init_std: float = 1e-4,
        score_precision: str = "auto",
    ) -> None:
        super().__init__()
        if not sp.issparse(pairs):
            raise MarginRankError(f"LightGCN takes the training pairs as a scipy sparse users x items matrix; got {type(pairs).__name__}")
        n_users, n_items = pairs.shape
        for name, value in (("n_users", n_users), ("n_items", n_items), ("dim", dim)):
            require_size(name, value)
        self.layers = require_integer("layers", layers, 0)
        self.similarity = require_choice("similarity", similarity, SIMILARITIES)
        self.ranking_similarity = require_choice("ranking_similarity", ranking_similarity, RANKING_SIMILARITIES)
        self.score_precision = require_choice("score_precision", score_precision, PRECISIONS)
        dropout = require_fraction("dropout", dropout, include_zero=True)
        self.n_users, self.n_items, self.dim = int(n_users), int(n_items), dim
        self.node_embedding = nn.Parameter(torch.empty(self.n_users + self.n_items, dim))
        nn.init.normal_(self.node_embedding, std=require_positive("init_std", init_std))
        self.dropout = Dropout(dropout)
        coo = sp.coo_matrix(pairs)
        self.register_buffer("graph_users", torch.from_numpy(coo.row.astype(np.int64)))
        self.register_buffer("graph_items", torch.from_numpy(coo.col.astype(np.int64)))
        self._graph: NormalizedGraph | None = None
        self._propagated: tuple[tuple[int, int], Tensor] | None = None

    @classmethod
    def build(cls, pairs: sp.csr_matrix, *, sparse: bool = False, **settings: object) -> Self:
        """A LightGCN over the graph of ``pairs``; ``sparse`` tables are refused (propagation mixes every row)."""
        if sparse:
            raise MarginRankError(
                "LightGCN propagates over the whole graph, so every step changes every row: set sparse = false"
            )
        return cls(pairs, **settings)

    # -- graph -----------------------------------------------------------------------------------
    @property
    def graph(self) -> NormalizedGraph:
        """``A_hat``, built on first use from the pairs in the buffers."""
        if self._graph is None:
            pairs = sp.csr_matrix(
                (np.ones(self.graph_users.numel(), dtype=np.float32),
                 (self.graph_users.cpu().numpy(), self.graph_items.cpu().numpy())),
                shape=(self.n_users, self.n_items),
            )
            self._graph = NormalizedGraph(pairs)
        return self._graph

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:  # type: ignore[override]
        """Take the saved graph whatever its number of pairs, then load as usual."""
        for name in GRAPH_BUFFERS:
            saved = state_dict.get(prefix + name)
            if isinstance(saved, Tensor):
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        self._graph = self._propagated = None
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def propagated(self) -> Tensor:
        """``[n_users + n_items, d]`` final embeddings (before ``f``), differentiable."""
        return Propagation.apply(self.node_embedding, self.graph, self.layers)

    # -- training --------------------------------------------------------------------------------
    def forward(self, users: Tensor, pos_items: Tensor, neg_items: Tensor) -> tuple[Tensor, Tensor]:
        """``(pos_scores [B], neg_scores [B, N])`` for a shared pool ``[N]``, grouped pools ``[G, N]``
        or per-example negatives ``[B, N]``, as :meth:`MF.forward <marginrank.models.MF.forward>`."""
        check_batch(users, pos_items, neg_items)
        self._propagated = None  # a training step follows: the weights are about to change
        nodes = self.propagated()
        cosine = self.similarity == "cosine"
        dtype = product_dtype(self.score_precision, nodes.device)
        user_table, item_table = nodes[: self.n_users], nodes[self.n_users :]
        user = guarded("user", self.n_users, (users,), lambda: NormalizedLookup.apply(user_table, users, cosine, False))
        return guarded(
            "item", self.n_items, (pos_items, neg_items),
            lambda: PooledItemScores.apply(self.dropout(user), item_table, pos_items, neg_items, cosine, False, dtype),
        )

    def regularization(self, users: Tensor, pos_items: Tensor, neg_items: Tensor) -> Tensor:
        """``0.5 * sum ||e^(0)||^2`` over the layer-0 rows the batch uses (LightGCN's L2, as its code
        applies it: on the ego embeddings of the batch, not on the propagated ones)."""
        user_rows = self.node_embedding[users]
        item_rows = self.node_embedding[self.n_users + torch.cat([pos_items.reshape(-1), neg_items.reshape(-1)])]
        return 0.5 * (user_rows.pow(2).sum() + item_rows.pow(2).sum())

    # -- evaluation ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Self:
        self._propagated = None
        return super().train(mode)

    @torch.no_grad()
    def _propagated_now(self) -> Tensor:
        """``e`` of every node, cached until the weights change: a training forward, a mode switch,
        a loaded state or an in-place write (which moves the version counter; a fused optimizer step
        does not, but always follows a forward) drops the cache."""
        key = (self.node_embedding.data_ptr(), self.node_embedding._version)
        if self._propagated is None or self._propagated[0] != key:
            self._propagated = (key, self.propagated())
        return self._propagated[1]

    def user_factors(self, similarity: str | None = None) -> Tensor:
        """``[n_users, d]`` propagated user vectors, normalized when the similarity asked for (by
        default the ranking similarity) is cosine."""
        return project(self._propagated_now()[: self.n_users], self.factor_similarity(similarity)).clone()

    def item_factors(self, similarity: str | None = None) -> Tensor:
        """``[n_items, d]`` propagated item vectors, as :meth:`user_factors`."""
        return project(self._propagated_now()[self.n_users :], self.factor_similarity(similarity)).clone()

    def extra_repr(self) -> str:
        return (
            f"n_users={self.n_users}, n_items={self.n_items}, dim={self.dim}, layers={self.layers}, "
            f"pairs={self.graph_users.numel()}, similarity={self.similarity!r}, "
            f"ranking_similarity={self.ranking_similarity!r}, dropout={self.dropout.p}, "
            f"score_precision={self.score_precision!r}"
        )
