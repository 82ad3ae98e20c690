"""Implicit feedback as one type: a users x items matrix with optional ratings and timestamps."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp

from marginrank.errors import MarginRankError


class DuplicateInteractionWarning(UserWarning):
    """Raised (as a warning) when the same (user, item) pair occurs more than once."""


@dataclass(frozen=True, eq=False)
class Interactions:
    """(user, item) pairs over a fixed index space, sorted by user then item, without duplicates.

    ``users`` and ``items`` are 0-based indices into ``user_ids`` / ``item_ids``, which hold the raw
    ids (ints or strings) of the source. ``ratings`` and ``timestamps`` are optional and aligned with
    the pairs. Two ``Interactions`` that share ``user_ids`` and ``item_ids`` (train and test of one
    dataset) share the index space, so their matrices have the same shape.

    Build one with :meth:`from_pairs` (which sorts and merges duplicates) or a reader in
    :mod:`marginrank.data`.
    """

    users: np.ndarray
    items: np.ndarray
    user_ids: np.ndarray
    item_ids: np.ndarray
    ratings: np.ndarray | None = None
    timestamps: np.ndarray | None = None
    source: str | None = field(default=None, compare=False)

    @classmethod
    def from_pairs(
        cls,
        users: np.ndarray,
        items: np.ndarray,
        *,
        user_ids: np.ndarray | int,
        item_ids: np.ndarray | int,
        ratings: np.ndarray | None = None,
        timestamps: np.ndarray | None = None,
        source: str | None = None,
    ) -> Interactions:
        """Sort pairs by (user, item); a repeated pair keeps its last occurrence, with a warning.

        ``user_ids`` / ``item_ids`` may be an int n, meaning the raw ids are ``0..n-1``.
        """
        users = np.asarray(users, dtype=np.int64)
        items = np.asarray(items, dtype=np.int64)
        user_ids = np.arange(user_ids) if np.isscalar(user_ids) else np.asarray(user_ids)
        item_ids = np.arange(item_ids) if np.isscalar(item_ids) else np.asarray(item_ids)
        if users.shape != items.shape or users.ndim != 1:
            raise MarginRankError("users and items must be 1-D arrays of the same length", path=source)
        for name, index, size in (("user", users, len(user_ids)), ("item", items, len(item_ids))):
            if index.size and (index.min() < 0 or index.max() >= size):
                raise MarginRankError(f"{name} index out of range 0..{size - 1}", path=source)
        extras = {"ratings": ratings, "timestamps": timestamps}
        for name, values in extras.items():
            if values is not None and np.shape(values) != users.shape:
                raise MarginRankError(f"{name} must have one value per pair", path=source)
        # Stable sort by key keeps the order of repeats, so "last occurrence wins" is well defined.
        keys = users * len(item_ids) + items
        order = np.argsort(keys, kind="stable")
        keys = keys[order]
        keep = np.ones(len(keys), dtype=bool)
        keep[:-1] = keys[1:] != keys[:-1]
        n_duplicates = int(len(keys) - keep.sum())
        if n_duplicates:
            warnings.warn(
                f"{source or 'interactions'}: {n_duplicates} duplicate (user, item) pairs merged "
                "(the last occurrence is kept)",
                DuplicateInteractionWarning,
                stacklevel=2,
            )
        selected = order[keep]
        return cls(
            users=users[selected],
            items=items[selected],
            user_ids=user_ids,
            item_ids=item_ids,
            ratings=None if ratings is None else np.asarray(ratings, dtype=np.float64)[selected],
            timestamps=None if timestamps is None else np.asarray(timestamps, dtype=np.float64)[selected],
            source=source,
        )

    @classmethod
    def from_sparse(cls, matrix: sp.spmatrix, *, source: str | None = None) -> Interactions:
        """From a users x items scipy sparse matrix; stored values become ratings unless all are 1."""
        coo = sp.coo_matrix(matrix)
        coo.sum_duplicates()
        coo.eliminate_zeros()
        data = np.asarray(coo.data, dtype=np.float64)
        ratings = None if np.all(data == 1.0) else data
        return cls.from_pairs(
            coo.row, coo.col, user_ids=coo.shape[0], item_ids=coo.shape[1], ratings=ratings, source=source
        )

    def __len__(self) -> int:
        return len(self.users)

    @property
    def n_users(self) -> int:
        return len(self.user_ids)

    @property
    def n_items(self) -> int:
        return len(self.item_ids)

    @property
    def shape(self) -> tuple[int, int]:
        return (self.n_users, self.n_items)

    @cached_property
    def matrix(self) -> sp.csr_matrix:
        """Binary users x items CSR matrix (float32 ones); ``rating_matrix`` keeps the ratings."""
        return self._csr(np.ones(len(self), dtype=np.float32))

    @cached_property
    def rating_matrix(self) -> sp.csr_matrix:
        values = self.ratings if self.ratings is not None else np.ones(len(self))
        return self._csr(np.asarray(values, dtype=np.float32))

    def _csr(self, values: np.ndarray) -> sp.csr_matrix:
        indptr = np.zeros(self.n_users + 1, dtype=np.int64)
        np.cumsum(np.bincount(self.users, minlength=self.n_users), out=indptr[1:])
        return sp.csr_matrix((values, self.items.copy(), indptr), shape=self.shape)

    def user_counts(self) -> np.ndarray:
        return np.bincount(self.users, minlength=self.n_users)

    def item_counts(self) -> np.ndarray:
        return np.bincount(self.items, minlength=self.n_items)

    @cached_property
    def _user_index(self) -> dict:
        return {raw: index for index, raw in enumerate(self.user_ids.tolist())}

    @cached_property
    def _item_index(self) -> dict:
        return {raw: index for index, raw in enumerate(self.item_ids.tolist())}

    def user_index(self, raw_ids) -> np.ndarray:
        """Indices of raw user ids; an unknown id is an error naming it."""
        return _lookup(self._user_index, raw_ids, "user")

    def item_index(self, raw_ids) -> np.ndarray:
        return _lookup(self._item_index, raw_ids, "item")

    def select(self, keep: np.ndarray) -> Interactions:
        """The pairs where ``keep`` is True, in the same index space."""
        keep = np.asarray(keep, dtype=bool)
        return Interactions(
            users=self.users[keep],
            items=self.items[keep],
            user_ids=self.user_ids,
            item_ids=self.item_ids,
            ratings=None if self.ratings is None else self.ratings[keep],
            timestamps=None if self.timestamps is None else self.timestamps[keep],
            source=self.source,
        )

    def compact(self) -> Interactions:
        """Drop users and items that have no pair, re-indexing the rest (raw ids are kept)."""
        user_used = np.flatnonzero(self.user_counts())
        item_used = np.flatnonzero(self.item_counts())
        user_map = np.full(self.n_users, -1, dtype=np.int64)
        user_map[user_used] = np.arange(len(user_used))
        item_map = np.full(self.n_items, -1, dtype=np.int64)
        item_map[item_used] = np.arange(len(item_used))
        return Interactions(
            users=user_map[self.users],
            items=item_map[self.items],
            user_ids=self.user_ids[user_used],
            item_ids=self.item_ids[item_used],
            ratings=self.ratings,
            timestamps=self.timestamps,
            source=self.source,
        )

    def overlap(self, other: Interactions) -> int:
        """Number of (user, item) pairs present in both (same index space required)."""
        if self.shape != other.shape:
            raise MarginRankError("interactions live in different index spaces")
        keys_self = self.users * self.n_items + self.items
        keys_other = other.users * other.n_items + other.items
        return int(np.isin(keys_other, keys_self, assume_unique=True).sum())

    def __repr__(self) -> str:
        extras = [name for name in ("ratings", "timestamps") if getattr(self, name) is not None]
        return (
            f"Interactions({len(self):,} pairs, {self.n_users:,} users x {self.n_items:,} items"
            + (f", with {' and '.join(extras)}" if extras else "")
            + (f", from {self.source}" if self.source else "")
            + ")"
        )


def _lookup(index: dict, raw_ids, kind: str) -> np.ndarray:
    """Map raw ids to indices; ids read from text match in either their int or str form."""
    values = np.atleast_1d(np.asarray(raw_ids, dtype=object)).tolist()
    int_keys = bool(index) and isinstance(next(iter(index)), int)
    out = np.empty(len(values), dtype=np.int64)
    for position, value in enumerate(values):
        try:
            out[position] = index[int(value) if int_keys else str(value)]
        except (KeyError, ValueError):
            raise MarginRankError(f"unknown {kind} id {value!r}") from None
    return out
