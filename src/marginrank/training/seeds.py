"""Seeds of one epoch, derived from ``(seed, epoch, stream, rank)``.

Everything random in a run is reseeded from these at the start of every epoch, so a resumed run
continues exactly where the interrupted one stopped, with the same or another number of processes.
Streams: 0 batch order, 1 negatives, 2 torch's global generator (dropout), 3 top-K threshold draws,
4 miners.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

BATCHES, NEGATIVES, GLOBAL, THRESHOLDS, MINERS = range(5)


@dataclass(frozen=True)
class EpochSeeds:
    seed: int
    epoch: int
    rank: int = 0

    def shared(self, stream: int) -> int:
        """The same on every rank (e.g. the batch order, which ranks split)."""
        return _derive(self.seed, self.epoch, stream, 0)

    def per_rank(self, stream: int) -> int:
        """Different on every rank (e.g. each rank's negatives)."""
        return _derive(self.seed, self.epoch, stream, self.rank)


def _derive(seed: int, epoch: int, stream: int, rank: int) -> int:
    return int(np.random.SeedSequence([seed, epoch, stream, rank]).generate_state(1)[0])
