"""What the command prints: clean per-epoch lines off a terminal, a real description, no 'None' epochs."""

import re

import pytest

from marginrank.cli.main import main

QUICK = ["--epochs", "2", "--negatives", "20", "--batch-size", "512"]


def test_quiet_keeps_one_clean_line_per_epoch(tmp_path, capsys):
    assert main(["train", "--quiet", "--no-refit", *QUICK, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "\r" not in err
    epochs = [line for line in err.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in epochs] == ["epoch 1", "epoch 2"]
    assert all("validation recall@20" in line for line in epochs)


def test_no_progress_silences_the_epoch_lines(tmp_path, capsys):
    assert main(["train", "--no-progress", *QUICK, "--out", str(tmp_path / "run")]) == 0
    assert not [line for line in capsys.readouterr().err.splitlines() if line.startswith("epoch ")]


def test_without_evaluation_there_is_no_best_epoch_to_name(tmp_path, capsys):
    assert main(["train", "--quiet", *QUICK, "--protocol", "none", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "None" not in out
    assert "no evaluation during training (protocol none): the model after epoch 2 (completed)" in out


def test_help_describes_the_tool_and_its_commands(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--help"])
    assert done.value.code == 0
    out = capsys.readouterr().out
    text = " ".join(out.split())
    assert "sub-command per module" not in text
    assert "with margin and contrastive losses" in text and "evaluate them by full ranking" in text
    for command in ("train", "evaluate", "recommend", "export", "plot", "inspect", "nmf"):
        assert re.search(rf"\n    {command}\s", out)
    assert "Run 'marginrank COMMAND --help' for the options of a command" in text
