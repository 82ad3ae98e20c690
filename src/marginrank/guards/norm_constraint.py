"""Projection of embedding rows onto a ball (or sphere) after each optimizer step, as in TransE."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
from torch import Tensor, nn

from marginrank.checks import require_positive
from marginrank.errors import MarginRankError


class NormConstraint:
    """Rescale rows in place so that ``||row|| <= max_norm`` (or ``== max_norm`` with ``exact=True``).

    Source: TransE (Bordes et al., NIPS 2013) sets every entity embedding to unit L2 norm at each
    iteration, "because it prevents the training process to trivially minimize L by artificially
    increasing entity embeddings norms"; ``exact=True`` is that projection onto the sphere.

    Which one to use: the upper bound (default) stops norms from growing without limit, the failure
    of dot-product scores under softmax-type losses. It does not stop norms from *shrinking*, the
    max-margin collapse; for that use ``exact=True`` (every row on the sphere, so scores are
    ``max_norm^2`` times cosines) or cosine scoring. All-zero rows are left at zero.

    Args:
        max_norm: the radius [1.0].
        exact: project onto the sphere instead of the ball [False].
        parameter_names: names (as in ``model.named_parameters()``) to constrain; by default the
            weights of every ``nn.Embedding`` in the model.

    Usage, after each ``optimizer.step()``: ``constraint(model)`` (or ``constraint.apply(model)``), or
    ``constraint(tensor)`` / ``constraint([t1, t2])`` for tensors, whose rows (last dim) are rescaled.
    """

    def __init__(self, max_norm: float = 1.0, *, exact: bool = False, parameter_names: Sequence[str] | None = None):
        self.max_norm = require_positive("max_norm", max_norm)
        self.exact = bool(exact)
        self.parameter_names = None if parameter_names is None else tuple(parameter_names)

    def __call__(self, target: nn.Module | Tensor | Iterable[Tensor]) -> None:
        if isinstance(target, nn.Module):
            self.apply(target)
        elif isinstance(target, Tensor):
            self.project_(target)
        else:
            for tensor in target:
                self.project_(tensor)

    def apply(self, model: nn.Module) -> None:
        """Constrain the configured parameters of ``model`` (default: all ``nn.Embedding`` weights)."""
        for tensor in self.parameters_of(model):
            self.project_(tensor)

    def parameters_of(self, model: nn.Module) -> list[Tensor]:
        if self.parameter_names is None:
            return [module.weight for module in model.modules() if isinstance(module, nn.Embedding)]
        named = dict(model.named_parameters())
        missing = [name for name in self.parameter_names if name not in named]
        if missing:
            raise MarginRankError(f"NormConstraint: the model has no parameter(s) {missing}; it has {sorted(named)}")
        return [named[name] for name in self.parameter_names]

    @torch.no_grad()
    def project_(self, tensor: Tensor) -> Tensor:
        """Rescale the rows (last dim) of ``tensor`` in place; returns it."""
        if not isinstance(tensor, Tensor) or not tensor.is_floating_point() or tensor.dim() == 0:
            raise MarginRankError(f"NormConstraint needs floating-point tensors with rows; got {tensor!r:.80}")
        norms = tensor.norm(dim=-1, keepdim=True)
        scale = self.max_norm / norms.clamp_min(torch.finfo(tensor.dtype).tiny)
        if not self.exact:
            scale = scale.clamp_max(1.0)
        return tensor.mul_(torch.where(norms > 0, scale, torch.ones_like(scale)))

    def __repr__(self) -> str:
        return f"NormConstraint(max_norm={self.max_norm}, exact={self.exact}, parameter_names={self.parameter_names})"
