"""benchmarks/reproduce.py's config files: what its table says they are, and runnable as they stand."""

from __future__ import annotations

import argparse

import pytest

from marginrank import Recommender
from marginrank.cli.settings import resolve
from tests.conftest import REPO, benchmark_script

CONFIGS = sorted((REPO / "benchmarks" / "configs").glob("*.toml"))


@pytest.fixture(scope="module")
def reproduce():
    return benchmark_script("reproduce")


def test_the_committed_configs_are_what_the_script_writes(reproduce, tmp_path, monkeypatch):
    monkeypatch.setattr(reproduce, "CONFIGS", tmp_path)
    reproduce.write_configs()
    written = sorted(tmp_path.glob("*.toml"))
    assert [path.name for path in written] == [path.name for path in CONFIGS]
    for path in written:
        assert path.read_text() == (REPO / "benchmarks" / "configs" / path.name).read_text(), path.name


@pytest.mark.parametrize("path", CONFIGS, ids=lambda path: path.stem)
def test_every_config_is_a_valid_run_for_the_cli_and_the_script(reproduce, path):
    settings = resolve(argparse.Namespace(config=path))
    assert settings.dataset in ("yelp2018", "gowalla")
    _, table = reproduce.recommender_settings(path.stem)
    assert Recommender(**table).params == settings.recommender
