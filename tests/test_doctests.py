"""Every ``>>>`` example in the package's docstrings runs and holds."""

import doctest
import importlib
import pkgutil

import pytest

import marginrank

# importing ``marginrank.__main__`` runs the command line and exits the process
UNIMPORTABLE = {"marginrank.__main__"}
MODULES = ["marginrank"] + sorted(
    info.name for info in pkgutil.walk_packages(marginrank.__path__, "marginrank.") if info.name not in UNIMPORTABLE
)
WITH_EXAMPLES = ["marginrank.losses.mmcl", "marginrank.nmf.estimator", "marginrank.sampling.uniform"]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_hold(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed (see the captured output)"


@pytest.mark.parametrize("name", WITH_EXAMPLES)
def test_examples_are_found(name):
    assert name in MODULES
    assert doctest.testmod(importlib.import_module(name)).attempted > 0
