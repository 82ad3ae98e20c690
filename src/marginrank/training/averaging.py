"""Exponential moving average of a model's weights, evaluated in place of the last step's."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from marginrank.errors import MarginRankError


class WeightAverage:
    """``average <- d_t * average + (1 - d_t) * weights`` after every optimizer step, with
    ``d_t = min(decay, (1 + t) / (10 + t))`` at step ``t`` so that the early average is not held back
    by the initial weights (the warm-up of TensorFlow's ``ExponentialMovingAverage(num_updates=t)``).

    Polyak averaging (Polyak & Juditsky, SIAM J. Control Optim. 1992) in its exponential form: the
    averaged weights sit near the centre of the region the last steps wander in, so an evaluation of
    them carries less of the step-to-step noise of a constant-learning-rate run. Only floating-point
    parameters are averaged; the model keeps training on its own weights.

    Args:
        model: the module whose parameters are averaged.
        decay: ``d`` in (0, 1); the average spans about ``1 / (1 - d)`` steps.
    """

    def __init__(self, model: nn.Module, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise MarginRankError(f"the weight-average decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.params = [p for p in model.parameters() if p.dtype.is_floating_point]
        self.average = [p.detach().clone() for p in self.params]
        self.steps = 0

    @torch.no_grad()
    def update(self) -> None:
        decay = min(self.decay, (1 + self.steps) / (10 + self.steps))
        for average, param in zip(self.average, self.params):
            average.lerp_(param, 1.0 - decay)
        self.steps += 1

    @contextmanager
    def applied(self) -> Iterator[None]:
        """Within the block the model holds the averaged weights; its own come back afterwards."""
        own = [p.detach().clone() for p in self.params]
        self.copy_to_model()
        try:
            yield
        finally:
            with torch.no_grad():
                for param, weights in zip(self.params, own):
                    param.copy_(weights)

    @torch.no_grad()
    def copy_to_model(self) -> None:
        for param, average in zip(self.params, self.average):
            param.copy_(average)

    def state_dict(self) -> dict[str, Any]:
        return {"decay": self.decay, "steps": self.steps, "average": [a.clone() for a in self.average]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        shapes = [tuple(a.shape) for a in state["average"]]
        if shapes != [tuple(a.shape) for a in self.average]:
            raise MarginRankError(f"the checkpoint's weight average has shapes {shapes}, not this model's")
        self.steps = int(state["steps"])
        with torch.no_grad():
            for average, saved in zip(self.average, state["average"]):
                average.copy_(saved)
