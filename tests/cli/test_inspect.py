import json
import subprocess
import sys

import pytest

from marginrank.cli.main import main


def test_inspect_synthetic_prints_baseline(capsys):
    assert main(["inspect", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["dataset"]["name"] == "synthetic" and 0 < out["popularity"]["recall@20"] < 1


@pytest.mark.parametrize(
    ("train", "line", "problem"),
    [("0 1 2\n1 two\n", 2, "'two' is not an integer"), ("0 1\n-1 2\n", 2, "negative id -1"), ("", None, "file is empty")],
)
def test_malformed_split_exits_2_with_one_line(tmp_path, capsys, train, line, problem):
    (tmp_path / "train.txt").write_text(train)
    (tmp_path / "test.txt").write_text("0 3\n")
    assert main(["inspect", "--data", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    where = f"{tmp_path / 'train.txt'}:{line}:" if line else f"{tmp_path / 'train.txt'}:"
    assert where in err and problem in err and "Traceback" not in err


def test_malformed_csv_exits_2(tmp_path, capsys):
    path = tmp_path / "ratings.csv"
    path.write_text("user,item,rating\na,b,5\nc\n")
    assert main(["inspect", "--data", str(path)]) == 2
    assert f"{path}:3:" in capsys.readouterr().err


def test_default_cut_off_shrinks_to_a_small_catalogue(tmp_path, capsys):
    """Three items: the default k = 20 becomes 3 instead of an error about a k nobody asked for."""
    (tmp_path / "train.txt").write_text("0 1 2\n1 2\n")
    (tmp_path / "test.txt").write_text("0 0\n1 0\n")
    assert main(["inspect", "--json", "--data", str(tmp_path)]) == 0
    baseline = json.loads(capsys.readouterr().out)["popularity"]
    assert set(baseline) >= {"recall@3", "ndcg@3"} and not any(key.endswith("@20") for key in baseline)
    assert main(["inspect", "--data", str(tmp_path), "-k", "20"]) == 2
    assert "k must be between 1 and the number of items (3), got 20" in capsys.readouterr().err


def test_a_file_with_one_item_per_user_has_nothing_to_test(tmp_path, capsys):
    path = tmp_path / "once.csv"
    path.write_text("0,1\n1,2\n2,1\n")
    assert main(["inspect", "--data", str(path)]) == 2
    assert f"{path}: no user has two or more items" in capsys.readouterr().err


def test_warnings_print_as_one_line(tmp_path):
    path = tmp_path / "dup.csv"
    path.write_text("0,1\n0,1\n0,2\n0,3\n1,1\n1,2\n1,3\n2,1\n2,2\n2,3\n")  # every test item is also trained on
    code = f"from marginrank.cli.main import main; raise SystemExit(main(['inspect', '--data', {str(path)!r}]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert done.stderr == f"marginrank: warning: {path}: 1 duplicate (user, item) pairs merged (the last occurrence is kept)\n"
