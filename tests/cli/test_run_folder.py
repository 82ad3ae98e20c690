"""The run folder through the command line: a bad or busy folder, a full disk or changed data is one
line and exit status 2, and leaves every file as it was."""

import errno
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from marginrank.cli.main import main
from marginrank.training import checkpoint
from marginrank.training.run_folder import MARKER

QUICK = ["--quiet", "--negatives", "10", "--batch-size", "128", "--patience", "10"]
SRC = Path(__file__).resolve().parents[2] / "src"
NO_SPACE = os.strerror(errno.ENOSPC)


@pytest.fixture
def pairs_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"{u},{i}" for u in range(80) for i in rng.choice(50, 8, replace=False)]
    path = tmp_path / "pairs.csv"
    path.write_text("user,item\n" + "\n".join(rows) + "\n")
    return path


def contents(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def one_line(capsys):
    """The error: one line, besides the report of the file read, the banner that says what trains, the
    settings chosen for the data and the epoch lines."""
    err = [line for line in capsys.readouterr().err.strip().splitlines()
           if not line.startswith(("marginrank: read ", "training ", "chosen for ", "epoch "))]
    assert len(err) == 1 and "Traceback" not in err[0]
    return err[0]


@pytest.mark.parametrize(
    "error",
    [OSError(errno.ENOSPC, NO_SPACE), RuntimeError(f"[enforce fail at inline_container.cc:664] . PytorchStreamWriter failed: {NO_SPACE}")],
)
def test_a_full_disk_is_one_line_and_keeps_the_checkpoints(tmp_path, capsys, monkeypatch, pairs_csv, error):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "2", "--data", str(pairs_csv), "--out", str(run)]) == 0
    before = contents(run)

    def full(state, handle):
        handle.write(b"PK\x03\x04 partial")
        raise error

    monkeypatch.setattr(checkpoint.torch, "save", full)
    capsys.readouterr()
    assert main(["train", "--resume", "--quiet", "--epochs", "3", "--out", str(run)]) == 2
    line = one_line(capsys)
    assert f"{run / 'last.pt'}: not written (no space left on device)" in line
    after = contents(run)
    assert (after["last.pt"], after["best.pt"]) == (before["last.pt"], before["best.pt"])
    assert not [name for name in after if name.endswith(".tmp")]


def test_a_second_training_into_a_folder_in_use_is_refused(tmp_path, capsys, pairs_csv):
    run = tmp_path / "run"
    hold = "import sys; from marginrank.training.run_folder import claim\nwith claim(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()"
    holder = subprocess.Popen([sys.executable, "-c", hold, str(run)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(SRC)})
    try:
        assert holder.stdout.readline() == "held\n"
        assert main(["train", *QUICK, "--epochs", "1", "--data", str(pairs_csv), "--out", str(run)]) == 2
        assert f"{run}: in use by another training (process {holder.pid})" in one_line(capsys)
        assert [p.name for p in run.iterdir()] == [MARKER]
    finally:
        holder.communicate("")
    assert main(["train", *QUICK, "--epochs", "1", "--data", str(pairs_csv), "--out", str(run)]) == 0


def test_resume_after_the_data_changed_is_refused(tmp_path, capsys, pairs_csv):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "1", "--data", str(pairs_csv), "--out", str(run)]) == 0
    before = contents(run)
    lines = pairs_csv.read_text().splitlines()
    pairs_csv.write_text("\n".join([lines[0], *lines[2:], "0,49" if lines[1] != "0,49" else "0,48"]) + "\n")
    capsys.readouterr()
    assert main(["train", "--resume", "--quiet", "--epochs", "2", "--out", str(run)]) == 2
    assert "this run's training data differ from those the checkpoint was trained on" in one_line(capsys)
    assert contents(run) == before


def test_a_last_pt_copied_from_another_run_of_the_same_shape_is_refused(tmp_path, capsys, pairs_csv):
    ours, theirs = tmp_path / "ours", tmp_path / "theirs"
    other_csv = tmp_path / "other.csv"
    lines = pairs_csv.read_text().splitlines()
    other_csv.write_text("\n".join([lines[0], *reversed(lines[1:])]).replace("\n0,", "\n1,", 1) + "\n")
    assert main(["train", *QUICK, "--epochs", "1", "--data", str(pairs_csv), "--out", str(ours)]) == 0
    assert main(["train", *QUICK, "--epochs", "1", "--data", str(other_csv), "--out", str(theirs)]) == 0
    (ours / "last.pt").write_bytes((theirs / "last.pt").read_bytes())
    (ours / "best.pt").write_bytes((theirs / "best.pt").read_bytes())  # a consistent pair of checkpoints
    before = contents(ours)
    capsys.readouterr()
    assert main(["train", "--resume", "--quiet", "--epochs", "2", "--out", str(ours)]) == 2
    assert f"{ours / 'last.pt'}: this run's training data differ" in one_line(capsys)
    assert contents(ours) == before


@pytest.mark.parametrize("argv", [["--device", "cuda"], []])
def test_a_folder_of_the_users_own_files_is_never_written(tmp_path, capsys, monkeypatch, pairs_csv, argv):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    run = tmp_path / "mine"
    run.mkdir()
    for name in ("config.toml", "log.jsonl", "metrics.json", "best.pt"):
        (run / name).write_text(f"the user's own {name}\n")
    before = contents(run)
    assert main(["train", *QUICK, "--epochs", "1", *argv, "--data", str(pairs_csv), "--out", str(run)]) == 2
    line = one_line(capsys)
    assert ("sees no CUDA device" in line) if argv else (f"{run}: holds files and no {MARKER}: not a marginrank run folder" in line)
    assert contents(run) == before


def test_the_end_of_training_lists_where_the_space_goes(tmp_path, capsys, pairs_csv):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "1", "--data", str(pairs_csv), "--out", str(run)]) == 0
    last = capsys.readouterr().out.strip().splitlines()[-1]
    sizes = {p.relative_to(run).as_posix(): p.stat().st_size for p in run.rglob("*") if p.is_file() and p.name != MARKER}
    assert last.startswith(f"run folder {run}: ")
    listed = dict(re.findall(r"([\w./]+) (\d+(?:\.\d)? (?:B|kB|MB))", last.partition(" (")[2]))
    assert list(listed) == sorted(sizes, key=sizes.get, reverse=True)
    assert listed["last.pt"] == f"{sizes['last.pt'] / 1e3:.1f} kB"
