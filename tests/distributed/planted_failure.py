"""Test-only entry point: ``marginrank train`` with a fault planted in rank 1's second training step.

``python planted_failure.py raise|hang <marginrank arguments>``: ``raise`` throws a RuntimeError,
``hang`` sleeps far longer than the collective timeout (rank 0 must then give up, not wait forever).
"""

from __future__ import annotations

import sys
import time

from marginrank.cli.main import main
from marginrank.training.trainer import Trainer

FAULT = sys.argv[1]
step = Trainer._step


def faulty_step(self: Trainer, batch) -> tuple[float, int]:
    self.planted_steps = getattr(self, "planted_steps", 0) + 1
    if self.process.rank == 1 and self.planted_steps == 2:
        if FAULT == "raise":
            raise RuntimeError("planted failure in step 2")
        time.sleep(600)
    return step(self, batch)


Trainer._step = faulty_step
sys.exit(main(sys.argv[2:]))
