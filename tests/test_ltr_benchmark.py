"""benchmarks/ltr.py without LightGBM: the table, the targets' verdicts, a failed install reported.
Nothing here installs anything."""

from __future__ import annotations

import pytest

from tests.conftest import benchmark_script


@pytest.fixture(scope="module")
def ltr():
    return benchmark_script("ltr")


def metrics(value: float) -> dict:
    return {f"ndcg@{k}": value + k / 100 for k in (1, 3, 5, 10)}


def result(ltr, ours: float, lightgbm: dict) -> dict:
    folds = {key: {"mean": value, "std": 0.01} for key, value in {**metrics(0.6), "fit_s": 3.0}.items()}
    return {
        "split": {"random order": {"metrics": metrics(0.3)},
                  "marginrank defaults": {"metrics": metrics(ours), "min": metrics(ours - 0.01), "fit_s": 3.0}},
        "cv": {"marginrank defaults": folds}, "lightgbm": lightgbm, "published": ltr.PUBLISHED, "targets": ltr.TARGETS,
        "seeds": (0, 1, 2), "folds": 5,
    }


def test_the_table_gives_each_method_and_the_verdicts(ltr):
    text = ltr.markdown(result(ltr, 0.66, {"ok": True}))
    assert "| marginrank defaults | 0.6700 (0.6600) | 0.6900 (0.6800) | 0.7100 (0.7000) | 0.7600 (0.7500) | 3.0 |" in text
    assert "ndcg@10 >= 0.7375: 0.7600 (met); ndcg@5 >= 0.6933: 0.7100 (met)" in text
    assert "| marginrank defaults | 0.6100 ± 0.0100 |" in text
    assert "ndcg@5 >= 0.6933: 0.6900 (missed)" in ltr.markdown(result(ltr, 0.64, {"ok": True}))


def test_a_failed_install_is_reported(ltr):
    text = ltr.markdown(result(ltr, 0.66, {"ok": False, "step": "pip install lightgbm==4.6.0"}))
    assert "LightGBM could not be run: pip install lightgbm==4.6.0" in text
