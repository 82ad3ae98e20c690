"""The first optimizer's import: named rightly, and begun on a side thread by ``preload_optimizers``."""

from __future__ import annotations

import subprocess
import sys

import pytest

FIRST_OPTIMIZER = """
import sys, torch
from marginrank.training.optimizers import OPTIMIZER_IMPORT, make_optimizer
assert OPTIMIZER_IMPORT not in sys.modules, "imported before any optimizer"
make_optimizer("adam", [torch.nn.Parameter(torch.zeros(2))], 0.1)
assert OPTIMIZER_IMPORT in sys.modules, "the first optimizer did not import it"
"""

PRELOAD = """
import sys
from marginrank.training.optimizers import OPTIMIZER_IMPORT, preload_optimizers
thread = preload_optimizers()
thread.join(300)
assert not thread.is_alive() and OPTIMIZER_IMPORT in sys.modules
assert preload_optimizers() is None
"""


@pytest.mark.parametrize("code", [FIRST_OPTIMIZER, PRELOAD], ids=["first optimizer", "preload"])
def test_the_import_the_first_optimizer_needs(code):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
