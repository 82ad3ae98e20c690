"""In-batch negatives: the other examples' positive items serve as each example's negatives."""

from __future__ import annotations

import torch

from marginrank.errors import MarginRankError
from marginrank.sampling.checks import index_tensor
from marginrank.sampling.membership import Membership
from marginrank.sampling.source import Drawn


class InBatchNegatives:
    """The batch's positives ``pos_items [B]`` as one shared pool, with the collision mask.

    Scores are ``S = U[users] @ V[pos_items].T`` ``[B, B]``; the positives are ``diag(S)`` and
    the negatives all of ``S`` under ``neg_mask`` (True = valid negative).  A column is masked for
    row b when it holds the same item as b's positive (the diagonal and duplicates) or, with
    ``exclude``, any known positive of ``users[b]``.

    >>> import torch
    >>> InBatchNegatives().mask(torch.tensor([0, 1, 2]), torch.tensor([5, 7, 5]))
    tensor([[False,  True, False],
            [ True, False,  True],
            [False,  True, False]])
    """

    def __init__(self, exclude: object | None = None) -> None:
        self.membership = Membership(exclude) if exclude is not None else None

    def draw(self, users: torch.Tensor, pos_items: torch.Tensor, *, with_log_prob: bool = False) -> Drawn:
        """The batch's positives as one shared pool ``[B]`` with :meth:`mask` as the valid negatives."""
        if with_log_prob:
            raise MarginRankError("in-batch negatives have no proposal probabilities: the log-Q correction does not apply")
        return Drawn(torch.as_tensor(pos_items), self.mask(users, pos_items))

    def mask(self, users: object, pos_items: object) -> torch.Tensor:
        """Bool ``neg_mask [B, B]`` for ``users [B]`` and their positive items ``pos_items [B]``."""
        upper_items = self.membership.n_items if self.membership is not None else torch.iinfo(torch.int64).max
        pos_items = index_tensor("pos_items", pos_items, upper_items, dim=1)
        if self.membership is not None:
            users = self.membership.check_users(users)
        else:
            users = index_tensor("users", users, torch.iinfo(torch.int64).max, dim=1)
        if users.numel() != pos_items.numel():
            raise MarginRankError(f"users has {users.numel()} entries, pos_items has {pos_items.numel()}")
        collision = pos_items.unsqueeze(0) == pos_items.unsqueeze(1)
        if self.membership is not None:
            collision |= self.membership.hits_in_pool(users, pos_items)
        return ~collision
