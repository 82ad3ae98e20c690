import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import marginrank
import marginrank.cli.commands
from marginrank.cli.main import main
from marginrank.cli.nmf import convergence_figure
from marginrank.errors import MarginRankError
from marginrank.nmf.io import read_matrix


@pytest.fixture(autouse=True)
def nmf_command(monkeypatch):
    monkeypatch.setattr(marginrank.cli.commands, "_COMMAND_MODULES", ("nmf",))


def test_read_long_and_dense_agree(tmp_path):
    long = tmp_path / "long.csv"
    long.write_text("row,col,value\np1,s1,1.5\np2,s2,2\np1,s2,0\n")
    dense = tmp_path / "dense.csv"
    dense.write_text("product,s1,s2\np1,1.5,0\np2,,2\n")
    X_long, rows, cols = read_matrix(long)
    X_dense, rows_d, cols_d = read_matrix(dense)
    np.testing.assert_array_equal(X_long, X_dense)
    assert np.isnan(X_long[1, 0]) and rows == rows_d == ["p1", "p2"] and cols == cols_d == ["s1", "s2"]


@pytest.mark.parametrize(
    "text, line, message",
    [
        ("row,col,value\na,b,1\na,c,oops\n", 3, "not a number"),
        ("row,col,value\na,b,1\na,b,2\n", 3, "repeated"),
        ("row,col,value\na,b\n", 2, "expected 3 cells"),
        ("id,x,y\nr1,1,2\nr2,3\n", 3, "expected 3 cells"),
        ("id,x,y\nr1,1,nan\n", 2, "not a finite"),
        ("id,x,x\nr1,1,2\n", 1, "column label 'x' appears twice"),
        ("id,x,y\nr1,1,2\n\nr2,,\n", 4, "row 'r2' has no observed value"),
        ("id,x,y\nr1,1,\nr2,3,\n", 1, "column 'y' has no observed value"),
        # long-format entries under another header read as dense rows: the repeated row says so
        ("user,item,rating\n0,3,1.5\n1,2,2\n0,4,1\n", 4, "row label '0' again \\(first on line 2\\).*row,col,value"),
    ],
)
def test_malformed_csv_names_file_and_line(tmp_path, text, line, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(MarginRankError, match=message) as caught:
        read_matrix(path)
    assert caught.value.line == line and caught.value.path == str(path)


def test_a_byte_order_mark_is_not_part_of_the_header(tmp_path):
    path = tmp_path / "excel.csv"
    path.write_bytes("\ufeffrow,col,value\np1,s1,2\n".encode())
    X, rows, cols = read_matrix(path)
    assert X.tolist() == [[2.0]] and rows == ["p1"] and cols == ["s1"]


def _write_long(path, X):
    rows, cols = np.nonzero(~np.isnan(X))
    path.write_text("row,col,value\n" + "".join(f"r{i},c{j},{float(X[i, j])!r}\n" for i, j in zip(rows, cols)))


def test_cli_writes_factors_filled_matrix_and_plot(tmp_path, make_planted, capsys):
    X, _, truth, _, _ = make_planted(seed=20)
    path = tmp_path / "data.csv"
    _write_long(path, X)
    out = tmp_path / "out"
    code = main(["nmf", str(path), "--rank", "3", "--max-iter", "2000", "--tol", "1e-14", "--out", str(out)])
    assert code == 0
    filled, row_labels, col_labels = read_matrix(out / "filled.csv")
    row_order = [int(label[1:]) for label in row_labels]  # labels keep their order of first appearance
    col_order = [int(label[1:]) for label in col_labels]
    expected = truth[np.ix_(row_order, col_order)]
    assert np.linalg.norm(filled - expected) / np.linalg.norm(truth) < 1e-6
    history = json.loads((out / "history.json").read_text())
    assert history["rank"] == 3 and len(history["objective"]) == history["n_iter"] + 1
    assert (out / "convergence.png").read_bytes()[:4] == b"\x89PNG"
    assert "iterations" in capsys.readouterr().out


def test_filled_keeps_observed_values_and_fills_the_rest_with_w_h(tmp_path, make_planted):
    X, _, _, _, _ = make_planted(seed=21)
    path = tmp_path / "data.csv"
    _write_long(path, X)
    out = tmp_path / "out"
    assert main(["nmf", str(path), "--rank", "1", "--max-iter", "50", "--out", str(out)]) == 0  # rank 1: no exact fit
    observed, _, _ = read_matrix(path)
    filled, _, _ = read_matrix(out / "filled.csv")
    W, _, _ = read_matrix(out / "W.csv")
    H, _, _ = read_matrix(out / "H.csv")
    seen = ~np.isnan(observed)
    assert not np.allclose((W @ H)[seen], observed[seen])
    np.testing.assert_array_equal(filled[seen], observed[seen])
    np.testing.assert_allclose(filled[~seen], (W @ H)[~seen], rtol=1e-12)


@pytest.mark.parametrize("l2", ["0", "0.5"])
def test_printed_objective_is_the_plotted_one(tmp_path, make_planted, capsys, l2):
    X, _, _, _, _ = make_planted(seed=22)
    path = tmp_path / "data.csv"
    _write_long(path, X)
    out = tmp_path / "out"
    assert main(["nmf", str(path), "--rank", "2", "--l2", l2, "--max-iter", "30", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    history = json.loads((out / "history.json").read_text())["objective"]
    assert f"objective {history[-1]:.6g}" in printed
    figure = convergence_figure(history, "frobenius", float(l2))
    (axes,) = figure.axes
    (curve,) = axes.get_lines()
    assert curve.get_ydata()[-1] == history[-1]
    assert axes.get_ylabel().startswith("objective") and axes.get_xlabel().startswith("iteration")
    assert f"({axes.get_title()})" in printed and ("l2" in axes.get_title()) == (l2 != "0")
    assert all(float(tick).is_integer() for tick in axes.get_xticks())


def test_cli_rank_above_the_matrix_size_exits_2_naming_the_option(tmp_path, capsys):
    path = tmp_path / "small.csv"
    path.write_text("id," + ",".join(f"c{j}" for j in range(8)) + "\n"
                    + "".join(f"r{i}," + ",".join("1" for _ in range(8)) + "\n" for i in range(20)))
    assert main(["nmf", str(path), "--rank", "50", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "n_components=50" in err and "= 8" in err and "(option --rank)" in err
    assert not (tmp_path / "o").exists()


def test_cli_malformed_file_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "bad.csv"
    path.write_text("row,col,value\na,b,1\na,c,-\n")
    assert main(["nmf", str(path), "--rank", "1", "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"{path}:3:" in err and "not a number" in err


def test_cli_negative_value_exits_2(tmp_path, capsys):
    path = tmp_path / "neg.csv"
    path.write_text("row,col,value\na,b,1\na,c,-2\nb,b,1\n")
    assert main(["nmf", str(path), "--rank", "1", "--out", str(tmp_path / "o")]) == 2
    assert "negative" in capsys.readouterr().err


def _readme_block(heading: str) -> str:
    """The first ```bash block after ``heading`` in the README."""
    text = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading):]
    return section[section.index("```bash\n") + len("```bash\n"):section.index("\n```", section.index("```bash\n"))]


def test_the_readme_nmf_example_runs_as_written(tmp_path):
    script = _readme_block("### Masked NMF")
    assert "marginrank nmf" in script
    env = {**os.environ, "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(Path(marginrank.__file__).parents[1]), os.environ.get("PYTHONPATH", "")])}
    shell = 'marginrank() { "$PYTHON" -m marginrank "$@"; }\n' + script
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", shell], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "warning" not in done.stderr and "objective" in done.stdout
    out = tmp_path / "nmf_out"
    assert {"W.csv", "H.csv", "filled.csv", "history.json", "convergence.png"} <= {p.name for p in out.iterdir()}
    filled, _, _ = read_matrix(out / "filled.csv")
    assert not np.isnan(filled).any()
