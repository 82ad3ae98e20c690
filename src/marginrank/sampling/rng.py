"""A seeded ``torch.Generator`` owned by each sampler and miner, with checkpointable state."""

from __future__ import annotations

from numbers import Integral

import torch

from marginrank.errors import MarginRankError


class SeededRandom:
    """Owns ``self.generator``: seeded from ``seed`` (or from fresh entropy when ``seed`` is None).

    Successive draws advance the generator, so each epoch gets new negatives; saving
    ``state_dict()`` and restoring it with ``load_state_dict()`` replays identical negatives.
    """

    def __init__(self, seed: int | None) -> None:
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed < 2**64):
            raise MarginRankError(f"seed must be an integer in 0 .. 2**64 - 1 or None, got {seed!r}")
        self.generator = torch.Generator()
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The generator state, to checkpoint alongside the model."""
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore a state from :meth:`state_dict`; the next draws repeat the saved run."""
        if "generator" not in state:
            raise MarginRankError("sampler state has no 'generator' entry")
        self.generator.set_state(state["generator"])
