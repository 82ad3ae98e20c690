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
        assert all(set(study.references(part, row["row"])) <= names for row in rows)
    assert study.references("tuned", "MMCL-800 tuned") == ["MMCL-800 grid"]
    assert study.references("tuned", "CCL-100 tuned") == ["CCL-100 grid", "MMCL-100 tuned"]
    assert study.references("tuned", "BSL-800 grid") == []
    assert study.references("mining", "MMCL-10 semi-hard") == ["MMCL-10 uniform"]
    assert study.references("sparsity", "BSL-800 keep 25%") == ["MMCL-800 keep 25%"]


def test_a_row_made_of_the_same_runs_as_another_parts_row_takes_them_over(study):
    spec = {part: {row["row"]: row for row in study.rows(part)} for part in study.PARTS}
    uniform = result("MMCL-800 uniform", [0.13, 0.14, 0.135])
    taken = study.measured_before(spec["tuned"]["MMCL-800 grid"], "tuned", "gowalla", [uniform])
    assert taken["part"] == "tuned" and taken["row"] == "MMCL-800 grid" and taken["runs"] == uniform["runs"]
    assert taken["same_as"] == "mining / MMCL-800 uniform"
    full = study.measured_before(spec["sparsity"]["MMCL-800 keep 100%"], "sparsity", "gowalla", [taken])
    assert full["same_as"] == "mining / MMCL-800 uniform"  # named after the row that ran them
    assert study.measured_before(spec["sparsity"]["MMCL-800 keep 50%"], "sparsity", "gowalla", [uniform]) is None
    assert study.measured_before(spec["mining"]["MMCL-800 uniform"], "mining", "gowalla", [uniform]) is None  # not from itself
    assert study.measured_before(spec["tuned"]["MMCL-800 grid"], "tuned", "yelp2018", [uniform]) is None
    assert study.measured_before(spec["tuned"]["MMCL-800 tuned"], "tuned", "gowalla", [uniform]) is None
    assert study.measured_before(spec["mining"]["MMCL-800 hard"], "mining", "gowalla", [uniform]) is None


def test_recorded_rows_keep_what_another_run_wrote_and_replace_their_own_older_run(study, tmp_path):
    out, identity = tmp_path / "study.json", {"seeds": 3, "max_epochs": 3, "quick": False}
    args = argparse.Namespace(quick=False, seeds=3, max_epochs=3)
    study.record(out, identity, result("MMCL-10 uniform", [0.06, 0.061, 0.062]), args)
    study.record(out, identity, result("MMCL-10 hard", [0.04, 0.041, 0.042]), args)  # as if from another process
    rows = study.record(out, identity, result("MMCL-10 uniform", [0.07, 0.071, 0.072]), args)
    assert [(r["row"], r["runs"][0]["recall@20"]) for r in rows] == [("MMCL-10 hard", 0.04), ("MMCL-10 uniform", 0.07)]
    assert study.stored_rows(out, identity) == rows
    assert study.stored_rows(out, {**identity, "max_epochs": None}) == []
    assert "| MMCL-10 hard |" in out.with_suffix(".md").read_text()


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
    args = argparse.Namespace(quick=False, seeds=3, max_epochs=None)
    results = [result("MMCL-100 uniform", [0.170, 0.172, 0.171]), result("MMCL-100 hard", [0.150, 0.152, 0.151])]
    table = study.markdown(results, args)
    assert "## mining: gowalla" in table
    assert "| MMCL-100 hard | 0.1510 (0.1500-0.1520) | 0.0755 (0.0750-0.0760) | 2.0 |  | lower, beyond the spread of MMCL-100 uniform |" in table


def test_a_tuned_ccl_or_bsl_row_is_judged_against_its_grid_row_and_tuned_mmcl(study):
    args = argparse.Namespace(quick=False, seeds=3, max_epochs=3)
    tuning = {"budget": 10, "trials": 10, "seconds": 300.0, "validation": 0.15, "settings": {}}
    results = [result("MMCL-100 tuned", [0.125, 0.126, 0.127], "tuned", tuning), result("CCL-100 grid", [0.10, 0.101, 0.102], "tuned"),
               result("CCL-100 tuned", [0.126, 0.127, 0.128], "tuned", tuning)]
    line = next(line for line in study.markdown(results, args).splitlines() if line.startswith("| CCL-100 tuned"))
    assert line.endswith("| 10 trials, 300 s, valid 0.1500 | higher, beyond the spread of CCL-100 grid; within the spread of MMCL-100 tuned |")
