"""What ``train --help`` says each default is, and the presets under the TOML file and the options."""

import argparse
import dataclasses
import math
import re

import pytest

from marginrank.cli import train
from marginrank.cli.main import main
from marginrank.cli.settings import TABLES, option_of, resolve
from marginrank.errors import MarginRankError
from marginrank.recommender import RecommenderParams
from marginrank.training.batch_scaling import auto_batch_size, pool_group_size, scaled_lr


@pytest.fixture(scope="module")
def help_by_option():
    """Each option of ``train --help`` with its help text, wrapped lines joined."""
    subparsers = argparse.ArgumentParser().add_subparsers()
    train.register(subparsers)
    text = subparsers.choices["train"].format_help()
    entries = re.split(r"\n  (?=-)", text.split("\noptions:\n", 1)[1])
    return {entry.split()[0].rstrip(","): " ".join(entry.split()) for entry in entries}


def test_every_plain_default_is_the_one_the_help_names(help_by_option):
    for field in dataclasses.fields(RecommenderParams):
        if field.name in TABLES or field.default is None or field.name == "refit":  # refit: the CLI's own default
            continue
        default = field.default
        shown = {True: "true", False: "false"}.get(default, None) if isinstance(default, bool) else None
        shown = shown or (f"[{', '.join(map(str, default))}]" if isinstance(default, tuple) else None)
        shown = shown or (f'"{default}"' if isinstance(default, str) else repr(default))
        assert f"(default: {shown})" in help_by_option[option_of(field.name)], field.name


def test_the_scaled_defaults_do_what_the_help_says(help_by_option):
    lr_rule = re.search(r"\(default: ([^()]*\([^()]*\))\)", help_by_option["--lr"]).group(1)
    for batch in (256, 512, 1024, 4096):
        said = eval(lr_rule.replace("batch size", str(batch)), {"sqrt": math.sqrt})
        assert scaled_lr(batch) == pytest.approx(said)
    assert "batch size / 32" in help_by_option["--group-size"]
    assert all(pool_group_size(batch) == batch // 32 for batch in (256, 4096))
    steps, low, high = map(int, re.search(r"about (\d+) steps per epoch, a power of two in (\d+)-(\d+)", help_by_option["--batch-size"]).groups())
    for n_pairs in (1_000, 50_000, 300_000, 10_000_000):
        batch = auto_batch_size(n_pairs)
        assert low <= batch <= high and batch & (batch - 1) == 0
        assert batch in (low, high) or abs(math.log2(n_pairs / steps / batch)) <= 0.5


def test_the_paper_preset_sits_under_the_file_and_the_options(tmp_path):
    paper = resolve(argparse.Namespace(preset="paper")).recommender
    assert (paper.shared_negatives, paper.exclude_positives, paper.batch_size, paper.lr) == (False, True, 1024, 1e-3)
    assert resolve(argparse.Namespace(preset="paper", batch_size=512)).recommender.batch_size == 512
    config = tmp_path / "run.toml"
    config.write_text('preset = "paper"\nbatch_size = 2048\n')
    from_file = resolve(argparse.Namespace(config=config)).recommender
    assert (from_file.shared_negatives, from_file.batch_size) == (False, 2048)
    fast = resolve(argparse.Namespace()).recommender
    assert (fast.shared_negatives, fast.batch_size, fast.lr) == (True, None, None)


def test_an_unknown_preset_in_a_file_names_the_line(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('loss = "bsl"\npreset = "slow"\n')
    with pytest.raises(MarginRankError, match="preset must be one of fast, paper"):
        resolve(argparse.Namespace(config=config))
    assert main(["train", "--config", str(config)]) == 2
    assert f"{config}:2" in capsys.readouterr().err
