import gzip
import io
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
    assert done.stderr.splitlines() == [
        f"marginrank: read {path}: comma-separated, no header, columns user, item (--header skips a first line of names)",
        f"marginrank: warning: {path}: 1 duplicate (user, item) pairs merged (the last occurrence is kept)",
    ]


def inspect_json(capsys, *argv):
    """(exit status, dataset summary, stderr lines) of ``inspect --json``."""
    code = main(["inspect", "--json", *argv])
    captured = capsys.readouterr()
    return code, json.loads(captured.out)["dataset"] if code == 0 else None, captured.err.splitlines()


def test_header_option_and_the_layout_line(tmp_path, capsys):
    path = tmp_path / "names.csv"
    path.write_text("customer,product\na,b\na,d\nc,b\nc,d\n")
    code, summary, err = inspect_json(capsys, "--data", str(path))
    assert code == 0 and summary["users"] == 3
    assert err == [f"marginrank: read {path}: comma-separated, no header, columns user, item (--header skips a first line of names)"]
    code, summary, err = inspect_json(capsys, "--data", str(path), "--header")
    assert code == 0 and summary["users"] == 2
    assert err == [f"marginrank: read {path}: comma-separated, header 'customer,product' skipped, columns user, item (--no-header reads it as a row)"]


def test_data_from_stdin(capsys, monkeypatch):
    piped = io.BytesIO(b"0,1\n0,2\n1,2\n1,3\n2,1\n2,3\n")
    piped.name = "<stdin>"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(piped))
    code, summary, err = inspect_json(capsys, "--data", "-")
    assert code == 0 and summary["name"] == "stdin" and summary["users"] == 3 and summary["test"] == 3
    assert err[0].startswith("marginrank: read <stdin>: comma-separated")


@pytest.mark.parametrize(
    ("content", "where", "problem"),
    [
        ("0,1\n1,2\n2,caf\xe9\n".encode("latin-1"), ":3:", "not UTF-8 text"),
        (gzip.compress(b"0,1\n1,2\n" * 100)[:30], ":", "not a complete gzip file"),
        (b'0,1\n"1,2\n', ":2:", "unclosed quote"),
    ],
    ids=["latin-1", "cut gzip", "open quote"],
)
def test_unreadable_bytes_exit_2_with_one_line(tmp_path, capsys, content, where, problem):
    path = tmp_path / "ratings.csv"
    path.write_bytes(content)
    assert main(["inspect", "--data", str(path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{path}{where} {problem}" in err[0]


def test_gzip_data_is_read(tmp_path, capsys):
    path = tmp_path / "ratings.csv.gz"
    path.write_bytes(gzip.compress(b"0,1\n0,2\n1,2\n1,3\n"))
    code, summary, _ = inspect_json(capsys, "--data", str(path))
    assert code == 0 and summary["users"] == 2 and summary["items"] == 3


def test_min_rating_option_and_the_negative_rating_warning(tmp_path, capsys):
    path = tmp_path / "likes.csv"
    path.write_text("0,1,1\n0,2,1\n0,3,-1\n1,1,1\n1,2,-1\n1,3,1\n2,2,1\n2,3,1\n")
    code = f"from marginrank.cli.main import main; raise SystemExit(main(['inspect', '--data', {str(path)!r}]))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0
    assert done.stderr.splitlines()[1] == (
        f"marginrank: warning: {path}: 2 ratings are negative and count as interactions; "
        "set min_rating to keep only ratings at or above it (option --min-rating)"
    )
    code, summary, err = inspect_json(capsys, "--data", str(path), "--min-rating", "1")
    assert code == 0 and summary["train"] + summary["test"] == 6


def test_leave_last_out_split(tmp_path, capsys):
    path = tmp_path / "timed.csv"
    path.write_text("".join(f"{user},{item},1,{100 * item + user}\n" for user in range(5) for item in range(10)))
    code, summary, _ = inspect_json(capsys, "--data", str(path))
    assert code == 0 and summary["test"] == 10
    code, summary, _ = inspect_json(capsys, "--data", str(path), "--split", "leave-last-out")
    assert code == 0 and summary["test"] == 5 and summary["train"] == 45
    untimed = tmp_path / "untimed.csv"
    untimed.write_text("0,1\n0,2\n1,2\n1,3\n")
    assert main(["inspect", "--data", str(untimed), "--split", "leave-last-out"]) == 2
    assert f"{untimed}: split 'leave-last-out' needs timestamps (a fourth column); this file has none (option --split)" in (
        capsys.readouterr().err
    )


@pytest.mark.parametrize("option", [["--header"], ["--min-rating", "4"], ["--split", "leave-last-out"]])
def test_file_options_refuse_a_split_folder(tmp_path, capsys, option):
    (tmp_path / "train.txt").write_text("0 1 2\n1 2\n")
    (tmp_path / "test.txt").write_text("0 0\n1 0\n")
    assert main(["inspect", "--data", str(tmp_path), *option]) == 2
    err = capsys.readouterr().err.strip()
    assert f"{option[0]} applies to a single delimited --data file" in err
