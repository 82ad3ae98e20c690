"""Row-wise score standardization: the max-margin guard for scorers whose output scale is free."""

from __future__ import annotations

import torch
from torch import Tensor


def standardize_scores(pos_scores: Tensor, neg_scores: Tensor, eps: float = 1e-24) -> tuple[Tensor, Tensor]:
    """Z-scores of each row's candidates: ``z = (s - mean) / sqrt(var + eps)`` over ``[s_p, s_n1..s_nN]``.

    Feed ``z`` to the loss instead of ``s``. Within a row this is a strictly increasing map, so the
    ranking (and evaluation on the raw scores) is unchanged; but the spread the loss sees is 1 by
    construction, so a max-margin loss can no longer fall towards the margin by shrinking (or
    shifting) all scores together: it must order the candidates. The same idea as batch
    normalization of the output (Ioffe & Szegedy 2015), taken over each example's candidate set.
    ``eps`` (added to the variance) is tiny so that it brings no scale back down to about 1e-12
    (LayerNorm's 1e-5 would make scores below about 3e-3 collapse again).

    Shapes: ``pos_scores [B]``, ``neg_scores [B, N]`` -> the same shapes.
    """
    candidates = torch.cat([pos_scores.unsqueeze(1), neg_scores], dim=1)
    var, mean = torch.var_mean(candidates, dim=1, keepdim=True, correction=0)
    z = (candidates - mean) * torch.rsqrt(var + eps)
    return z[:, 0], z[:, 1:]


def standardize_groups(scores: Tensor, valid: Tensor, eps: float = 1e-24) -> Tensor:
    """Z-scores within each group: ``scores [G, S]`` over its ``valid [G, S]`` entries (padding is
    left as is). The group-wise form of :func:`standardize_scores`: a strictly increasing map within
    each group, so the ranking is unchanged, while the spread the loss sees is 1."""
    weights = valid.to(scores.dtype)
    count = weights.sum(dim=1, keepdim=True).clamp_min(1)
    mean = (scores * weights).sum(dim=1, keepdim=True) / count
    centred = (scores - mean) * weights
    var = centred.square().sum(dim=1, keepdim=True) / count
    return torch.where(valid, centred * torch.rsqrt(var + eps), scores)
