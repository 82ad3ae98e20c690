"""benchmarks/study.py: its rows, the thinned training pairs, the verdicts against the seeds' spread
and the tables, on made-up results (the study itself takes minutes to hours)."""

from __future__ import annotations

import argparse

import numpy as np
import pytest

from marginrank import datasets
from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def study():
    return benchmark_script("study")


def test_every_part_has_its_rows_and_each_compared_row_has_its_reference(study):
    tuned, mining, sparsity = (study.rows(part) for part in study.PARTS)
    assert len(tuned) == 12 and sum(row["tuned"] for row in tuned) == 6
    assert {row["changes"].get("miner") for row in mining} == {None, "hard", "semi-hard", "mixed"} and len(mining) == 12
    assert mining[-1]["changes"]["miner_params"] == {"n_hard": 40, "n_uniform": 40}  # a tenth of 800
    assert sorted({row["keep"] for row in sparsity}) == [0.25, 0.5, 1.0]
    for part, rows in zip(study.PARTS, (tuned, mining, sparsity)):
        names = {row["row"] for row in rows}
        assert all(study.references(part, row["row"]) in names | {None} for row in rows)
    assert study.references("tuned", "MMCL-800 tuned") == "MMCL-800 grid"
    assert study.references("mining", "MMCL-10 semi-hard") == "MMCL-10 uniform"
    assert study.references("sparsity", "BSL-800 keep 25%") == "MMCL-800 keep 25%"


def test_thinning_keeps_every_user_and_a_share_of_their_pairs(study):
    data = datasets.load("synthetic", n_users=300, n_items=200)
    quarter = study.kept(data, 0.25)
    before, after = data.train.user_counts(), quarter.train.user_counts()
    assert np.all(after >= 1) and np.all(after <= np.maximum(1, np.ceil(0.25 * before) + 1))
    assert (quarter.train.matrix.multiply(data.train.matrix) != quarter.train.matrix).nnz == 0
    assert quarter.test is data.test and study.kept(data, 1.0) is data


def result(row, recalls, part="mining", tuning=None):
    runs = [{"seed": s, "seconds": 2.0, "best_epoch": 3, "recall@20": r, "ndcg@20": r / 2} for s, r in enumerate(recalls)]
    return {"part": part, "dataset": "gowalla", "row": row, "runs": runs, "tuning": tuning}


def test_a_difference_is_called_only_beyond_the_seeds_spread(study):
    uniform = result("MMCL-100 uniform", [0.170, 0.172, 0.171])
    assert study.verdict(result("MMCL-100 hard", [0.180, 0.181, 0.185]), uniform) == "higher, beyond the spread"
    assert study.verdict(result("MMCL-100 hard", [0.160, 0.165, 0.169]), uniform) == "lower, beyond the spread"
    assert study.verdict(result("MMCL-100 hard", [0.160, 0.171, 0.190]), uniform) == "within the spread"


def test_the_table_gives_mean_spread_seconds_and_the_verdict(study):
    args = argparse.Namespace(quick=False, seeds=3, trials=20, max_epochs=None)
    results = [result("MMCL-100 uniform", [0.170, 0.172, 0.171]), result("MMCL-100 hard", [0.150, 0.152, 0.151])]
    table = study.markdown(results, args)
    assert "## mining: gowalla" in table
    assert "| MMCL-100 hard | 0.1510 (0.1500-0.1520) | 0.0755 (0.0750-0.0760) | 2.0 |  | lower, beyond the spread of MMCL-100 uniform |" in table
