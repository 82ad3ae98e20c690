"""Vectorized "is item i a known positive of user u" over a CSR users x items matrix.

Two queries, each picked for its shape (measured on Yelp2018, see docs/sampling.md):

- :meth:`Membership.contains` tests arbitrary ``(u, i)`` pairs.  A canonical CSR lists its
  entries in row-major order, so the keys ``u * n_items + i`` are already sorted: one
  ``torch.searchsorted`` per pair (log2(nnz) steps) and a compare.
- :meth:`Membership.hits_in_pool` answers "which of these N pool items are positives of which of
  these B users" (``[B, N]``) without B x N searches: it walks the adjacency lists of one side
  (the B users' rows, or the N items' columns, whichever holds fewer entries) and looks each
  neighbour up in a count table of the other side.  Grouped pools ``[G, N]`` (row ``b`` uses pool
  ``b // ceil(B / G)``) offset both sides' keys by the group, so it is the same single walk.
"""

from __future__ import annotations

import numpy as np
import torch

from marginrank.sampling.checks import canonical_csr, index_tensor
from marginrank.sampling.layout import pool_of_row


def _as_index(array: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(array.astype(np.int64))


def _neighbours(ptr: torch.Tensor, idx: torch.Tensor, nodes: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Adjacency lists of ``nodes`` flattened: ``(position in nodes [T], neighbour [T])``."""
    degree = ptr[nodes + 1] - ptr[nodes]
    position = torch.repeat_interleave(torch.arange(nodes.numel()), degree)
    start_in_output = torch.cumsum(degree, 0) - degree
    entry = torch.arange(position.numel()) + (ptr[nodes] - start_in_output)[position]
    return position, idx[entry]


def _links(
    ptr: torch.Tensor, idx: torch.Tensor, nodes: torch.Tensor, node_keys: torch.Tensor, other_keys: torch.Tensor, n_keys: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Every ``(a, b)`` with ``neighbour + node_keys[a] == other_keys[b]`` for a neighbour of ``nodes[a]``.

    Keys lie in ``[0, n_keys)``; ``node_keys`` offsets each node's neighbours (zero, or its pool's
    group times the neighbour range), and ``other_keys`` may repeat values.
    """
    copies = torch.bincount(other_keys, minlength=n_keys)
    first_copy = torch.cumsum(copies, 0) - copies  # where each key's copies start in sorted(other_keys)
    column_in_sorted = torch.sort(other_keys, stable=True).indices
    position, neighbour = _neighbours(ptr, idx, nodes)
    key = neighbour + node_keys[position]
    linked = (copies[key] > 0).nonzero().squeeze(1)
    position, key = position[linked], key[linked]
    count = copies[key]
    copy_number = torch.arange(int(count.sum())) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
    sorted_slot = torch.repeat_interleave(first_copy[key], count) + copy_number
    return torch.repeat_interleave(position, count), column_in_sorted[sorted_slot]


class Membership:
    """Known positives of each user, from a scipy sparse users x items matrix (stored non-zeros)."""

    def __init__(self, matrix: object) -> None:
        csr = canonical_csr(matrix)
        csc = csr.tocsc()
        csc.sort_indices()
        self.n_users, self.n_items = csr.shape
        self.indptr, self.indices = _as_index(csr.indptr), _as_index(csr.indices)
        self._item_ptr, self._item_users = _as_index(csc.indptr), _as_index(csc.indices)
        self.degree = self.indptr.diff()
        self._item_degree = self._item_ptr.diff()
        self._entry_user = torch.repeat_interleave(torch.arange(self.n_users), self.degree)
        self._keys = self._entry_user * self.n_items + self.indices

    def check_users(self, users: object) -> torch.Tensor:
        """``users`` as a 1-D int64 tensor of valid row ids."""
        return index_tensor("users", users, self.n_users, dim=1)

    def contains(self, users: torch.Tensor, items: torch.Tensor) -> torch.Tensor:
        """Bool tensor (broadcast of ``users`` and ``items``): True where ``items`` is a positive of ``users``."""
        queries = users * self.n_items + items
        if self._keys.numel() == 0:
            return torch.zeros(queries.shape, dtype=torch.bool)
        found = torch.searchsorted(self._keys, queries).clamp_max_(self._keys.numel() - 1)
        return self._keys[found] == queries

    def row_entries(self, users: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The positives of each listed user, flattened: ``(row [T], item [T])`` with ``row`` the position in ``users``."""
        return _neighbours(self.indptr, self.indices, users)

    def hits_in_pool(self, users: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        """Bool ``[B, N]``: True where row ``b``'s pool item ``j`` is a known positive of ``users[b]``.

        ``pool`` is one pool ``[N]`` for every row, or grouped pools ``[G, N]`` where row ``b``
        uses pool ``b // ceil(B / G)`` (either side may repeat values).
        """
        groups = pool.view(-1, pool.shape[-1])
        n_groups, width = groups.shape
        row_group = pool_of_row(users.numel(), pool)
        entry_group = torch.arange(n_groups).repeat_interleave(width)
        items = groups.flatten()
        hits = torch.zeros(users.numel(), width, dtype=torch.bool)
        # walk the side with fewer adjacency entries; the other side's count table is part of the cost
        by_users = int(self.degree[users].sum()) + n_groups * self.n_items
        by_items = int(self._item_degree[items].sum()) + n_groups * self.n_users
        if by_users <= by_items:
            row, entry = _links(self.indptr, self.indices, users, row_group * self.n_items,
                                entry_group * self.n_items + items, n_groups * self.n_items)
        else:
            entry, row = _links(self._item_ptr, self._item_users, items, entry_group * self.n_users,
                                row_group * self.n_users + users, n_groups * self.n_users)
        hits[row, entry % width] = True
        return hits

    def sum_over_rows(self, item_values: torch.Tensor) -> torch.Tensor:
        """Per-user sum of ``item_values[i]`` over that user's positives ``i`` (shape ``[n_users]``)."""
        totals = torch.zeros(self.n_users, dtype=item_values.dtype)
        return totals.index_add_(0, self._entry_user, item_values[self.indices])
