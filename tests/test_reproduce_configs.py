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


def test_the_table_names_the_in_batch_rows_and_how_they_rank(reproduce):
    result = {
        "row": "gowalla-lightgcn-bsl-in-batch", "protocol": "paper", "device": "cpu", "overrides": {},
        "recall@20": 0.1891, "ndcg@20": 0.1587, "best_epoch": 140, "epochs_run": 150, "stopped": "patience",
        "settings": {"lr": 1e-3, "batch_size": 2048, "group_size": None, "patience": 30, "lr_patience": 10,
                     "lr_factor": 0.3, "model_params": {"layers": 1}, "sampler": "in-batch", "ranking_similarity": "dot"},
        "curve": [0.18] * 150,
    }
    table = reproduce.render({"gowalla-lightgcn-bsl-in-batch/paper": result})
    row = next(line for line in table.splitlines() if line.startswith("| BSL, in-batch negatives | paper"))
    assert "| not run | 0.1891 / 0.1587 | 150 (140) |" in row and "1 layer(s), ranked by dot" in row
    assert "- gowalla: best LightGCN row vs the best published LightGCN row (gowalla-lightgcn-bsl-in-batch/paper)" in table


def test_a_run_with_changed_settings_is_listed_with_its_changes_and_can_be_the_best_row(reproduce):
    base = {"row": "gowalla-lightgcn-bsl-in-batch", "protocol": "paper", "device": "cpu", "best_epoch": 9, "epochs_run": 10,
            "stopped": "time_limit", "settings": {"lr": 1e-3, "batch_size": 2048, "group_size": None, "patience": 40},
            "curve": [0.18] * 10}
    results = {
        "gowalla-lightgcn-bsl-in-batch/paper": {**base, "overrides": {}, "recall@20": 0.1850, "ndcg@20": 0.1550},
        "gowalla-lightgcn-bsl-in-batch/paper-b1024": {**base, "overrides": {"batch_size": 1024}, "recall@20": 0.1860, "ndcg@20": 0.1560},
    }
    table = reproduce.render(results)
    assert "| gowalla-lightgcn-bsl-in-batch/paper-b1024 | 0.1860 / 0.1560 | 10\u2020 (9) | cpu | batch_size = 1024 |" in table
    assert "| gowalla-lightgcn-bsl-in-batch/paper |" not in table
    assert ("best LightGCN row vs the best published LightGCN row (gowalla-lightgcn-bsl-in-batch/paper-b1024, "
            "its config with {'batch_size': 1024}") in table
