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
        users, items = _index_array(users, "user", source), _index_array(items, "item", source)
        user_ids, item_ids = _raw_ids(user_ids, "user", source), _raw_ids(item_ids, "item", source)
        if users.shape != items.shape or users.ndim != 1:
            raise MarginRankError("users and items must be 1-D arrays of the same length", path=source)
        for name, index, size in (("user", users, len(user_ids)), ("item", items, len(item_ids))):
            if index.size and (index.min() < 0 or index.max() >= size):
                raise MarginRankError(f"{name} index out of range 0..{size - 1}", path=source)
        extras = {"ratings": ratings, "timestamps": timestamps}
        for name, values in extras.items():
            if values is not None and np.shape(values) != users.shape:
                raise MarginRankError(f"{name} must have one value per pair", path=source)
        ratings, timestamps = (None if v is None else _finite_numbers(v, name, source) for name, v in extras.items())
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
            ratings=None if ratings is None else ratings[selected],
            timestamps=None if timestamps is None else timestamps[selected],
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
    def user_id_index(self) -> dict:
        """Raw user id -> index."""
        return id_index(self.user_ids)

    @cached_property
    def item_id_index(self) -> dict:
        """Raw item id -> index."""
        return id_index(self.item_ids)

    def user_index(self, raw_ids) -> np.ndarray:
        """Indices of raw user ids; an unknown id is an error naming it."""
        return lookup_ids(self.user_id_index, raw_ids, "user")

    def item_index(self, raw_ids) -> np.ndarray:
        return lookup_ids(self.item_id_index, raw_ids, "item")

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


def _index_array(values, kind: str, source: str | None) -> np.ndarray:
    """0-based indices as int64; a fraction, NaN, bool or text is an error, never rounded."""
    array = np.asarray(values)
    if array.dtype.kind in "iu" or array.size == 0:
        return array.astype(np.int64)
    if array.dtype.kind == "f":
        bad = ~np.isfinite(array) | (array != np.round(array))
        if not bad.any():
            return array.astype(np.int64)
        example = array[bad][:1].tolist()[0]
    else:
        example = array.reshape(-1)[:1].tolist()[0]
    raise MarginRankError(f"{kind} indices must be integers, got {array.dtype} values such as {example!r}", path=source)


def _raw_ids(ids, kind: str, source: str | None) -> np.ndarray:
    """The raw ids of the indices: an int n means 0..n-1; given ids must be distinct."""
    if isinstance(ids, (int, np.integer)) and not isinstance(ids, bool):
        return np.arange(ids)
    if np.isscalar(ids) or isinstance(ids, bool):
        raise MarginRankError(f"{kind}_ids must be a count or an array of raw ids, got {ids!r}", path=source)
    ids = np.asarray(ids)
    seen: set = set()
    for value in ids.tolist():
        if value in seen:
            raise MarginRankError(f"{kind} id {value!r} appears twice among the raw ids", path=source)
        seen.add(value)
    return ids


def _finite_numbers(values, name: str, source: str | None) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise MarginRankError(f"{name} must be numbers", path=source) from None
    bad = np.flatnonzero(~np.isfinite(array))
    if bad.size:
        raise MarginRankError(f"{name} must be finite; pair {bad[0]} has {array[bad[0]]}", path=source)
    return array


def id_index(ids: np.ndarray) -> dict:
    """Raw id -> position, for :func:`lookup_ids`."""
    return {raw: index for index, raw in enumerate(ids.tolist())}


def lookup_ids(index: dict, raw_ids, kind: str) -> np.ndarray:
    """Map raw ids to indices. An id matches itself (any hashable value); ids read from text also
    match in their int or str form (``"7"`` finds 7, 7 finds ``"7"``), but never by rounding: 1.9
    and True are no user 1, and ``"007"`` is no user 7."""
    array = np.atleast_1d(np.asarray(raw_ids, dtype=object))
    if array.ndim != 1:
        raise MarginRankError(f"{kind} ids must be a flat sequence, got shape {array.shape}")
    found = find_ids(index, array.tolist())
    unknown = np.flatnonzero(found < 0)
    if unknown.size:
        raise MarginRankError(f"unknown {kind} id {array[unknown[0]]!r}")
    return found


def find_ids(index: dict, raw_ids: list) -> np.ndarray:
    """Index of each raw id, -1 where it is unknown; ids match as in :func:`lookup_ids`."""
    int_keys = bool(index) and isinstance(next(iter(index)), int)
    out = np.empty(len(raw_ids), dtype=np.int64)
    for position, value in enumerate(raw_ids):
        try:
            out[position] = _position(index, value, int_keys)
        except (KeyError, ValueError, TypeError):
            out[position] = -1
    return out


def _position(index: dict, value, int_keys: bool) -> int:
    if isinstance(value, bool):
        raise KeyError(value)
    if value in index:
        return index[value]
    if int_keys:
        if not isinstance(value, str) or str(int(value)) != value:
            raise KeyError(value)
        return index[int(value)]
    return index[str(value)]
