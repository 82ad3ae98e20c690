"""Data that would make the metrics silently wrong is reported; settings the data cannot serve are refused."""

import subprocess
import sys

import pytest

from marginrank.cli.main import main

QUICK = ["--quiet", "--epochs", "1", "--negatives", "20", "--batch-size", "512"]


def error_lines(err):
    return [line for line in err.splitlines() if line.startswith("marginrank: error")]


def run_cli(*argv):
    code = f"from marginrank.cli.main import main; raise SystemExit(main({list(argv)!r}))"
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("test", "warning"),
    [
        ("0 1\n1 2\n2 0 2\n", "marginrank: warning: 4 of the 4 test pairs (100%) are training pairs too"),
        ("0 2\n1 3 5\n2 1\n", "marginrank: warning: 2 test items and 0 test users have no training pair; they are kept"),
    ],
)
def test_inspect_reports_a_test_split_that_cannot_measure_anything(tmp_path, test, warning):
    (tmp_path / "train.txt").write_text("0 0 1\n1 1 2\n2 0 2\n")
    (tmp_path / "test.txt").write_text(test)
    done = run_cli("inspect", "--data", str(tmp_path), "-k", "1")
    assert done.returncode == 0
    (line,) = done.stderr.splitlines()
    assert line.startswith(warning)


def test_more_negatives_than_items_is_refused_naming_the_option(tmp_path, capsys):
    assert main(["train", *QUICK, "--negatives", "1001", "--out", str(tmp_path / "run")]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "negatives 1001 is more than the 1000 items of the data" in line and line.endswith("(option --negatives)")
    assert not (tmp_path / "run").exists()


def test_users_with_two_items_name_the_empty_validation_split_and_the_way_out(tmp_path, capsys):
    data = tmp_path / "pairs.csv"
    data.write_text("user,item\n" + "\n".join(f"u{u},i{(u + k) % 30}" for u in range(50) for k in range(2)) + "\n")
    assert main(["train", *QUICK, "--data", str(data), "--ks", "5", "--out", str(tmp_path / "run")]) == 2
    (line,) = error_lines(capsys.readouterr().err)
    assert "the validation split is empty" in line and "protocol 'none'" in line and line.endswith("(option --protocol)")
    assert main(["train", *QUICK, "--data", str(data), "--ks", "5", "--protocol", "none", "--out", str(tmp_path / "run")]) == 0
