"""benchmarks/anytime.py without implicit: the snapshot exchange with the runner, the budget reading, the table
and the failure report. Nothing here installs anything."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from marginrank import datasets
from marginrank.metrics import evaluate_embeddings
from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def anytime():
    return benchmark_script("anytime")


FAKE_RUNNER = """
import json, sys
import numpy as np
for iteration in (1, 2):
    rng = np.random.default_rng(iteration)
    users, items = rng.normal(size=(300, 8)).astype(np.float32), rng.normal(size=(120, 8)).astype(np.float32)
    np.savez(sys.argv[1] + "/snapshot.npz", users=users, items=items)
    print(json.dumps({"factors": 8, "regularization": 0.1, "alpha": 10.0, "iteration": iteration, "train_s": 0.5 * iteration}), flush=True)
    sys.stdin.readline()
"""


def test_each_als_snapshot_is_ranked_by_marginrank_while_the_runner_waits(anytime, tmp_path):
    data = datasets.load("synthetic", n_users=300, n_items=120)
    runner = subprocess.Popen([sys.executable, "-c", FAKE_RUNNER, str(tmp_path)], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    curves = anytime.evaluate_snapshots(runner, tmp_path, data)
    assert runner.returncode == 0
    [curve] = curves
    assert (curve["factors"], curve["regularization"], curve["alpha"]) == (8, 0.1, 10.0)
    for iteration, point in zip((1, 2), curve["points"], strict=True):
        rng = np.random.default_rng(iteration)
        users, items = rng.normal(size=(300, 8)).astype(np.float32), rng.normal(size=(120, 8)).astype(np.float32)
        ours = evaluate_embeddings(torch.from_numpy(users), torch.from_numpy(items), data.train.matrix, data.test.matrix, ks=(20,))
        assert point["iteration"] == iteration and point["recall@20"] == ours["recall@20"]
        assert point["seconds"] == pytest.approx(0.5 * iteration + point["eval_s"]) and point["eval_s"] > 0


def test_a_budget_holds_the_best_point_within_it(anytime):
    points = [{"seconds": 3.0, "recall@20": 0.05}, {"seconds": 8.0, "recall@20": 0.04}, {"seconds": 12.0, "recall@20": 0.06}]
    assert [anytime.best_within(points, budget) for budget in (2, 5, 10, 20)] == [None, 0.05, 0.05, 0.06]


def test_the_table_compares_marginranks_best_run_with_als_and_names_the_targets(anytime):
    def curve(*points):
        return {"points": [{"seconds": s, "recall@20": r} for s, r in points]}

    result = {"datasets": {"gowalla": {
        "als": {"curves": [curve((4, 0.15), (40, 0.17))]},
        "marginrank": {"marginrank defaults": curve((3, 0.16), (80, 0.1840)), "BSL-800, dim 256": curve((30, 0.175))},
    }}}
    result["table"] = anytime.budget_table(result)
    at = {row["budget_s"]: row for row in result["table"]}
    assert at[5]["implicit ALS (tuned)"] == 0.15 and at[5]["marginrank defaults"] == 0.16 and at[5]["BSL-800, dim 256"] is None
    assert [at[budget]["marginrank (best run)"] for budget in (5, 30, 60, 90)] == [0.16, 0.175, 0.175, 0.1840]
    text = anytime.markdown(result)
    assert "| gowalla | 20 s | 0.1500 | 0.1600 (≥ ALS) | 0.1600 | — | — | — | — |" in text
    assert "| gowalla | 60 s | 0.1700 | 0.1750 (≥ ALS) | 0.1600 | — | — | 0.1750 | — |" in text
    assert "| gowalla | 90 s | 0.1700 | 0.1840 (≥ ALS) | 0.1840 | — | — | 0.1750 | — |" in text
    assert "- gowalla: Recall@20 0.1837 within 90 s: best 0.184 (met)" in text


def test_a_failed_install_is_reported_not_raised(anytime, tmp_path, monkeypatch):
    def refuse(command, **kwargs):
        return subprocess.CompletedProcess(command, 1, stdout="", stderr="ERROR: No matching distribution found")

    data = datasets.load("synthetic", n_users=300, n_items=120)
    monkeypatch.setattr(subprocess, "run", refuse)
    result = anytime.als_curves(data, tmp_path / "venv")
    assert result["status"] == "install_failed" and "No matching distribution" in result["install"]["error"]
