"""``marginrank metric-train``: digits end to end, a labelled CSV, and bad input as one line with exit status 2."""

from __future__ import annotations

import json

import numpy as np
import pytest

from marginrank import MetricLearner
from marginrank.cli.main import main

pytest.importorskip("sklearn", reason="the digits ship with scikit-learn")


@pytest.mark.usefixtures("one_thread")
def test_trains_on_digits_and_writes_model_metrics_and_log(tmp_path, capsys) -> None:
    out = tmp_path / "run"
    assert main(["metric-train", "--epochs", "3", "--loss", "multi-similarity", "--similarity", "cosine", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["held_out"]
    assert set(metrics) >= {"precision@1", "r_precision", "map@r", "recall@1", "recall@8"}
    assert metrics["map@r"] > 0.3 and metrics["precision@1"] > 0.9  # chance: about 0.11 and 0.33 on digits 7-9
    assert len((out / "log.jsonl").read_text().splitlines()) == 3
    assert MetricLearner.load(out / "model.pt").transform(np.zeros((2, 64))).shape == (2, 32)
    assert main(["metric-train", "--epochs", "1", "--out", str(out)]) == 2
    assert "already holds a finished model.pt" in capsys.readouterr().err


@pytest.mark.usefixtures("one_thread")
def test_trains_on_a_labelled_csv_with_held_out_samples(tmp_path) -> None:
    rng = np.random.default_rng(0)
    labels = np.repeat(["cat", "dog", "eel", "fox"], 20)
    centers = {name: rng.normal(size=5) * 3 for name in np.unique(labels)}
    rows = [",".join([name, *(f"{v:.4f}" for v in centers[name] + rng.normal(size=5))]) for name in labels]
    (tmp_path / "data.csv").write_text("kind,f1,f2,f3,f4,f5\n" + "\n".join(rows) + "\n")
    out = tmp_path / "run"
    assert main(["metric-train", "--data", str(tmp_path / "data.csv"), "--label", "kind", "--held-out-samples", "0.25",
                 "--epochs", "5", "--classes-per-batch", "4", "--out", str(out), "--quiet"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())["held_out"]
    assert metrics["queries"] == 20 and metrics["precision@1"] > 0.9


@pytest.mark.parametrize(("text", "where", "what"), [
    ("a,b\n1,2\n", ":1:", "no label column 'kind'"),
    ("kind,a,b\nx,1,2\ny,3,seven\n", ":3:", "feature 'b' is not a number: 'seven'"),
    ("kind,a,b\nx,1,2\nNaN,3,4\n", ":3:", "missing label"),
    ("kind,a,b\nx,1,2\ny,3,nan\n", ":3:", "feature 'b' is not a finite number"),
])
def test_bad_csv_is_one_line_naming_file_and_line_with_exit_2(tmp_path, capsys, text: str, where: str, what: str) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(text)
    assert main(["metric-train", "--data", str(path), "--label", "kind", "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and f"{path}{where}" in err and what in err
    assert not (tmp_path / "run").exists()
