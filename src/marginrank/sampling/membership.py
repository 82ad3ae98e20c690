"""Vectorized "is item i a known positive of user u" over a CSR users x items matrix.

Two queries, each picked for its shape (measured on Yelp2018, see docs/sampling.md):

- :meth:`Membership.contains` tests arbitrary ``(u, i)`` pairs.  A canonical CSR lists its
  entries in row-major order, so the keys ``u * n_items + i`` are already sorted: one
  ``torch.searchsorted`` per pair (log2(nnz) steps) and a compare.
- :meth:`Membership.hits_in_pool` answers the ``[B, N]`` question "which of these N pool items
  are positives of which of these B users" by walking the B users' rows (cost proportional to
  their degrees) and looking each positive up in a per-item count of the pool, instead of
  B x N searches.
"""

from __future__ import annotations

import numpy as np
import torch

from marginrank.sampling.checks import canonical_csr, index_tensor


class Membership:
    """Known positives of each user, from a scipy sparse users x items matrix (stored non-zeros)."""

    def __init__(self, matrix: object) -> None:
        csr = canonical_csr(matrix)
        self.n_users, self.n_items = csr.shape
        self.indptr = torch.from_numpy(csr.indptr.astype(np.int64))
        self.indices = torch.from_numpy(csr.indices.astype(np.int64))
        self.degree = self.indptr.diff()
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
        degree = self.degree[users]
        row = torch.repeat_interleave(torch.arange(users.numel()), degree)
        row_start_in_output = torch.cumsum(degree, 0) - degree
        entry = torch.arange(row.numel()) + (self.indptr[users] - row_start_in_output)[row]
        return row, self.indices[entry]

    def hits_in_pool(self, users: torch.Tensor, pool: torch.Tensor) -> torch.Tensor:
        """Bool ``[B, N]``: True where ``pool[j]`` is a known positive of ``users[b]`` (pool may repeat items).

        Each positive of the B users looks up how many copies of it the pool holds (a table of
        ``n_items`` counts); only the few that are in the pool are expanded to their columns.
        """
        copies = torch.bincount(pool, minlength=self.n_items)
        first_copy = torch.cumsum(copies, 0) - copies  # where each item's copies start in the sorted pool
        column_in_sorted = torch.sort(pool, stable=True).indices
        row, item = self.row_entries(users)
        in_pool = (copies[item] > 0).nonzero().squeeze(1)
        row, item = row[in_pool], item[in_pool]
        count = copies[item]
        copy_number = torch.arange(int(count.sum())) - torch.repeat_interleave(torch.cumsum(count, 0) - count, count)
        sorted_slot = torch.repeat_interleave(first_copy[item], count) + copy_number
        hits = torch.zeros(users.numel(), pool.numel(), dtype=torch.bool)
        hits[torch.repeat_interleave(row, count), column_in_sorted[sorted_slot]] = True
        return hits

    def sum_over_rows(self, item_values: torch.Tensor) -> torch.Tensor:
        """Per-user sum of ``item_values[i]`` over that user's positives ``i`` (shape ``[n_users]``)."""
        totals = torch.zeros(self.n_users, dtype=item_values.dtype)
        return totals.index_add_(0, self._entry_user, item_values[self.indices])
