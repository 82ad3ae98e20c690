"""The engine every negative sampler shares: proposal draws, vectorized rejection, exact fallback.

A sampler proposes items i.i.d. from ``q(i) = w_i / sum(w)``.  Per example, with ``exclude``, an
item that is a known positive of its user is rejected; with ``replace=False`` a repeat within a
row is rejected too.  Only rejected entries are redrawn, for at most ``MAX_REJECTION_ROUNDS``
rounds.  Rows still holding a rejected entry are then redrawn whole, exactly, with
``torch.multinomial`` over the user's weights with the positives zeroed, so every call ends and
every entry follows ``q`` restricted to the user's non-positives (rejection and the exact draw
give the same conditional law).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch

from marginrank.errors import MarginRankError
from marginrank.sampling.checks import index_tensor, positive_int
from marginrank.sampling.membership import Membership
from marginrank.sampling.rng import SeededRandom
from marginrank.sampling.source import Drawn

MAX_REJECTION_ROUNDS = 8
_FALLBACK_CELLS = 1 << 22  # rows x n_items weights materialised at once by the exact fallback


def repeated_in_row(items: torch.Tensor) -> torch.Tensor:
    """Bool like ``items [R, N]``: True on every occurrence of a value after its first in that row's sorted order."""
    ordered, order = torch.sort(items, dim=1, stable=True)
    repeat = torch.zeros_like(items, dtype=torch.bool)
    repeat[:, 1:] = ordered[:, 1:] == ordered[:, :-1]
    return torch.zeros_like(repeat).scatter_(1, order, repeat)


class NegativeSampler(SeededRandom, ABC):
    """Base of :class:`UniformSampler` and :class:`PopularitySampler`.

    Args:
        weights: unnormalised proposal weights ``w`` ``[n_items]`` (float64, >= 0).
        num_negatives: N, negatives per example (or size of the shared pool).
        shared: one pool ``[N]`` for the whole batch instead of ``[B, N]``.
        exclude: scipy sparse users x items matrix of known positives.
        replace: False forbids repeats within a row (and within the shared pool).
        seed: seed of the owned ``torch.Generator``.
        group_size: with ``shared``, the batch is cut into groups of this many consecutive rows and
            each group gets its own pool: ``sample`` returns ``[G, N]`` with ``G = ceil(B / group_size)``,
            and row ``r`` uses pool ``r // ceil(B / G)`` (see :mod:`marginrank.sampling.layout`). Scoring
            stays one small matrix product per group, while every step touches many more item rows
            than one pool would (which is what lets Adam-type optimizers move them often).
    """

    def __init__(
        self,
        weights: torch.Tensor,
        num_negatives: int,
        *,
        shared: bool,
        exclude: object | None,
        replace: bool,
        seed: int | None,
        group_size: int | None = None,
    ) -> None:
        super().__init__(seed)
        if group_size is not None and not shared:
            raise MarginRankError("group_size applies to shared negatives only (shared=True)")
        self.group_size = None if group_size is None else positive_int("group_size", group_size)
        self.n_items = int(weights.numel())
        self.num_negatives = positive_int("num_negatives", num_negatives)
        self.shared = bool(shared)
        self.replace = bool(replace)
        self._weights = weights
        self._total_weight = weights.sum()
        self._support = int((weights > 0).sum())
        if not self.replace and self.num_negatives > self._support:
            raise MarginRankError(
                f"cannot draw {self.num_negatives} distinct negatives from {self._support} drawable items"
            )
        self.membership = Membership(exclude) if exclude is not None else None
        if self.membership is not None:
            if self.membership.n_items != self.n_items:
                raise MarginRankError(
                    f"exclude has {self.membership.n_items} item columns, the sampler has {self.n_items} items"
                )
            drawable = (weights > 0).to(torch.int64)
            self._free_items = self._support - self.membership.sum_over_rows(drawable)
            self._free_weight = self._total_weight - self.membership.sum_over_rows(weights)

    @abstractmethod
    def _propose(self, count: int) -> torch.Tensor:
        """``count`` i.i.d. item ids from the proposal ``q`` (int64 ``[count]``)."""

    def sample(self, users: object) -> torch.Tensor:
        """Negatives for a batch: ``[B, N]`` per example, or ``[N]`` when ``shared``.

        Per example with ``exclude``, no entry is a known positive of its row's user.
        """
        users = self._check_users(users)
        if self.shared:
            if self.group_size is not None:
                return self._draw(None, -(-users.numel() // self.group_size))
            return self._draw(None, 1)[0]
        self._check_drawable(users)
        return self._draw(users, users.numel())

    def log_prob(self, items: torch.Tensor, users: torch.Tensor | None = None) -> torch.Tensor:
        """``log q(i)`` of each drawn item, for the log-Q correction of sampled softmax.

        With ``users`` (per-example sampling with ``exclude``) the proposal is renormalised over
        each user's non-positives: ``log q_u(i) = log w_i - log(sum(w) - sum_{j in P(u)} w_j)``,
        ``users`` broadcasting against ``items`` as ``users[:, None]``.  With ``replace=False`` this
        is the per-draw probability, the usual approximation (draws without replacement are not
        independent).
        """
        items = index_tensor("items", items, self.n_items)  # -1 would wrap to the last item
        return self._log_prob(items, None if users is None else self._check_users(users))

    def _log_prob(self, items: torch.Tensor, users: torch.Tensor | None) -> torch.Tensor:
        """:meth:`log_prob` of checked indices (the sampler's own draws need no second check)."""
        log_q = torch.log(self._weights[items]) - torch.log(self._total_weight)
        if users is not None and self.membership is not None:
            log_q = log_q - torch.log(self._free_weight[users] / self._total_weight).unsqueeze(-1)
        return log_q.to(torch.get_default_dtype())

    def sample_with_log_prob(self, users: object) -> tuple[torch.Tensor, torch.Tensor]:
        """``(items, log_q)`` with the shapes of :meth:`sample`; see :meth:`log_prob`."""
        users = self._check_users(users)
        items = self.sample(users)
        return items, self._log_prob(items, None if self.shared else users)

    def draw(self, users: torch.Tensor, pos_items: torch.Tensor, *, with_log_prob: bool = False) -> Drawn:
        """:class:`~marginrank.sampling.source.Drawn` negatives for ``users``: :meth:`sample` (or
        :meth:`sample_with_log_prob`), and for pools shared by several rows the mask of the known
        positives they hold (a per-example draw already excludes them)."""
        items, log_prob = self.sample_with_log_prob(users) if with_log_prob else (self.sample(users), None)
        valid = None
        if self.shared and self.membership is not None:
            valid = ~self.collision_mask(users, items)
        return Drawn(items, valid, log_prob)

    def collision_mask(self, users: object, items: torch.Tensor) -> torch.Tensor:
        """Bool ``[B, N]``: True where the negative is a known positive of that row's user.

        ``items`` is a shared pool ``[N]``, grouped pools ``[G, N]`` (``G < B``, from ``group_size``)
        or per-example ``[B, N]``.  Pass ``neg_mask=~collision`` to the loss.  Without ``exclude``
        nothing collides (all False).
        """
        users = self._check_users(users)
        items = index_tensor("items", items, self.n_items)
        grouped = self.group_size is not None and items.dim() == 2 and items.shape[0] < users.numel()
        if items.dim() not in (1, 2) or (items.dim() == 2 and not grouped and items.shape[0] != users.numel()):
            raise MarginRankError(
                f"items must be [N], grouped pools [G, N] or [{users.numel()}, N], got shape {tuple(items.shape)}"
            )
        if self.membership is None:
            return torch.zeros(users.numel(), items.shape[-1], dtype=torch.bool)
        if items.dim() == 2 and not grouped:
            return self.membership.contains(users.unsqueeze(1), items)
        return self.membership.hits_in_pool(users, items)  # one pool, or row r uses pool r // ceil(B / G)

    def _check_users(self, users: object) -> torch.Tensor:
        if self.membership is not None:
            return self.membership.check_users(users)
        return index_tensor("users", users, torch.iinfo(torch.int64).max, dim=1)

    def _check_drawable(self, users: torch.Tensor) -> None:
        if self.membership is None:
            return
        needed = 1 if self.replace else self.num_negatives
        short = self._free_items[users] < needed
        if bool(short.any()):
            user = int(users[short][0])
            free = int(self._free_items[user])
            if free == 0:
                raise MarginRankError(
                    f"user {user} has no item left to sample as a negative: every drawable item is a known positive"
                )
            raise MarginRankError(
                f"user {user} has only {free} items that are not known positives, "
                f"fewer than the {self.num_negatives} distinct negatives asked (replace=False)"
            )

    def _draw(self, users: torch.Tensor | None, rows: int) -> torch.Tensor:
        """``[rows, N]`` draws; per-user rejection when ``users`` is given."""
        items = self._propose(rows * self.num_negatives).view(rows, self.num_negatives)
        rejected = self._rejected(users, items)
        for _ in range(MAX_REJECTION_ROUNDS):
            where = rejected.nonzero(as_tuple=True)
            if where[0].numel() == 0:
                return items
            items[where] = self._propose(where[0].numel())
            rejected = self._rejected(users, items, where)
        stuck = rejected.any(dim=1).nonzero().squeeze(1)
        if stuck.numel():
            items[stuck] = self._draw_exactly(None if users is None else users[stuck], stuck.numel())
        return items

    def _rejected(
        self,
        users: torch.Tensor | None,
        items: torch.Tensor,
        redrawn: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> torch.Tensor:
        """Entries to redraw: known positives (only ``redrawn`` ones are re-tested) and in-row repeats."""
        rejected = torch.zeros_like(items, dtype=torch.bool)
        if users is not None and self.membership is not None:
            if redrawn is None:
                rejected = self.membership.contains(users.unsqueeze(1), items)
            else:
                rejected[redrawn] = self.membership.contains(users[redrawn[0]], items[redrawn])
        if not self.replace:
            rows = torch.arange(items.shape[0]) if redrawn is None else torch.unique(redrawn[0])
            rejected[rows] |= repeated_in_row(items[rows])
        return rejected

    def _draw_exactly(self, users: torch.Tensor | None, rows: int) -> torch.Tensor:
        """``[rows, N]`` drawn by ``torch.multinomial`` over ``w`` with each user's positives zeroed."""
        out = torch.empty(rows, self.num_negatives, dtype=torch.int64)
        chunk = max(1, _FALLBACK_CELLS // self.n_items)
        for start in range(0, rows, chunk):  # chunks of rows bound memory; not a loop per user
            stop = min(rows, start + chunk)
            weights = self._weights.expand(stop - start, self.n_items).clone()
            if users is not None and self.membership is not None:
                row, item = self.membership.row_entries(users[start:stop])
                weights[row, item] = 0.0
            out[start:stop] = torch.multinomial(
                weights, self.num_negatives, replacement=self.replace, generator=self.generator
            )
        return out
