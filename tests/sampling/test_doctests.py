"""The ``>>>`` examples in the sampling docstrings run and hold."""

import doctest
import importlib

import pytest

MODULES = [
    "marginrank.sampling.uniform",
    "marginrank.sampling.popularity",
    "marginrank.sampling.in_batch",
    "marginrank.sampling.miners.hard",
    "marginrank.sampling.miners.semi_hard",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    result = doctest.testmod(importlib.import_module(name))
    assert result.attempted > 0 and result.failed == 0
