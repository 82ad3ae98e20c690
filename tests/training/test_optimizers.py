"""The first optimizer's import (about a second): named rightly, and after the start's evaluation in a fit."""

from __future__ import annotations

import subprocess
import sys

import pytest

# imported by the first torch optimizer a process builds (its ``add_param_group`` is wrapped by
# ``torch._disable_dynamo``): about 1.3 s here, which the Recommender keeps out of its first result
OPTIMIZER_IMPORT = "torch._dynamo"

FIRST_OPTIMIZER = f"""
import sys, torch
from marginrank.training.optimizers import make_optimizer
OPTIMIZER_IMPORT = {OPTIMIZER_IMPORT!r}
assert OPTIMIZER_IMPORT not in sys.modules, "imported before any optimizer"
make_optimizer("adam", [torch.nn.Parameter(torch.zeros(2))], 0.1)
assert OPTIMIZER_IMPORT in sys.modules, "the first optimizer did not import it"
"""

START_FIRST = """
import sys
from marginrank import Recommender, datasets
from marginrank.training.evaluator import Evaluator
OPTIMIZER_IMPORT = {import_!r}

imported_when_evaluated = []
evaluate = Evaluator.__call__
def recorded(self, model):
    imported_when_evaluated.append(OPTIMIZER_IMPORT in sys.modules)
    return evaluate(self, model)
Evaluator.__call__ = recorded

data = datasets.load("synthetic", n_users=200, n_items=100, mean_items_per_user=10)
Recommender(negatives=10, epochs=2, lr_schedule="{schedule}", progress=False).fit(data)
first, *later = imported_when_evaluated  # the start, epochs 1 and 2, the final test figures
assert not first and len(later) >= 2 and all(later), imported_when_evaluated
"""


@pytest.mark.parametrize(
    "code",
    [FIRST_OPTIMIZER, *(START_FIRST.format(schedule=schedule, import_=OPTIMIZER_IMPORT) for schedule in ("plateau", "cosine"))],
    ids=["first optimizer", "start evaluated first, plateau", "start evaluated first, cosine"],
)
def test_the_import_the_first_optimizer_needs(code):
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
