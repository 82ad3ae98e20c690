import argparse
import json

import pytest

from marginrank import datasets
from marginrank.cli.main import main
from marginrank.cli.settings import resolve

BASE = "epochs = 2\nnegatives = 20\nbatch_size = 512\n"
SPACE = """[lr]
log_uniform = [1e-4, 1e-2]

[mmcl]
count = [2, 3]
margins = [0.3, 0.95]
"""


@pytest.fixture
def files(tmp_path):
    base, space = tmp_path / "base.toml", tmp_path / "space.toml"
    base.write_text(BASE)
    space.write_text(SPACE)
    return base, space


def tune(base, space, out, *extra):
    return main(["tune", "--config", str(base), "--space", str(space), "--out", str(out), "--quiet", *extra])


def test_a_search_writes_its_study_trials_best_config_and_figure_and_train_reruns_the_best(files, tmp_path, capsys):
    base, space = files
    out = tmp_path / "search"
    assert tune(base, space, out, "--trials", "3") == 0
    assert {"study.db", "best.toml", "summary.json", "search.png", "trials"} <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    assert [t["number"] for t in summary["trials"]] == [0, 1, 2] and summary["split"] == "validation"
    for trial in summary["trials"]:
        folder = out / "trials" / f"trial-{trial['number']}"
        assert {"config.toml", "log.jsonl", "metrics.json", "model.pt"} <= {p.name for p in folder.iterdir()}
        metrics = json.loads((folder / "metrics.json").read_text())
        assert "recall@20" not in metrics and metrics["selection"]["recall@20"] == trial["value"]  # nothing tested
        assert "refit = false" in (folder / "config.toml").read_text()
    best = summary["best"]
    assert best["value"] == max(t["value"] for t in summary["trials"])
    err = capsys.readouterr().err
    assert err.count("validation recall@20") == 3 and "the test split left out" in err

    rerun = tmp_path / "rerun"
    assert main(["train", "--config", str(out / "best.toml"), "--out", str(rerun), "--quiet"]) == 0
    metrics = json.loads((rerun / "metrics.json").read_text())
    assert metrics["selection"]["recall@20"] == best["value"]  # the best trial, trained again
    assert metrics["refit"] and "recall@20" in metrics  # then refit on every training pair and tested
    params = resolve(argparse.Namespace(config=out / "best.toml")).recommender
    assert params.loss_params["margins"] == best["settings"]["loss_params"]["margins"] and params.lr == best["settings"]["lr"]


class Poisoned:
    """A test split that fails the search on any use."""

    def __getattr__(self, name):
        raise AssertionError(f"the search used the test split ({name})")


def test_a_search_never_reads_the_test_split(files, tmp_path, monkeypatch):
    import marginrank.cli.tune as tune_command
    import marginrank.recommender as recommender

    data = datasets.load("synthetic")
    train, test = data.train.matrix, data.test.matrix
    object.__setattr__(data, "test", Poisoned())
    monkeypatch.setattr(tune_command, "load_source", lambda settings: data)
    held_out = []

    class SpyEvaluator(recommender.Evaluator):
        def __init__(self, seen, pairs, *args, **kwargs):
            held_out.append(pairs)
            super().__init__(seen, pairs, *args, **kwargs)

    monkeypatch.setattr(recommender, "Evaluator", SpyEvaluator)
    base, space = files
    assert tune(base, space, tmp_path / "search", "--trials", "2") == 0
    assert len(held_out) == 2
    for pairs in held_out:  # each trial picks its epochs on a share of the training pairs, never on a test pair
        assert (pairs.multiply(train) != pairs).nnz == 0 and pairs.multiply(test).nnz == 0
        assert 0 < pairs.nnz < 0.2 * train.nnz


def test_an_interrupted_search_resumes_keeping_its_trials(files, tmp_path):
    base, space = files
    out = tmp_path / "search"
    assert tune(base, space, out, "--trials", "2") == 0
    first = json.loads((out / "summary.json").read_text())["trials"]
    assert tune(base, space, out, "--trials", "4") == 0
    trials = json.loads((out / "summary.json").read_text())["trials"]
    assert [t["number"] for t in trials] == [0, 1, 2, 3] and trials[:2] == first
    assert tune(base, space, out, "--trials", "4") == 0  # nothing left to run
    assert len(json.loads((out / "summary.json").read_text())["trials"]) == 4


def test_trials_that_fall_behind_on_validation_are_pruned_where_they_stand(files, tmp_path):
    """On the synthetic data a high rate drops the validation recall below the start in the first
    epoch; once 3 trials have finished, such a trial is pruned there."""
    base, space = files
    base.write_text("epochs = 3\nnegatives = 20\nbatch_size = 512\npatience = 10\n")
    space.write_text("[lr]\nchoice = [1e-9, 3e-3]\n")
    out = tmp_path / "search"
    assert tune(base, space, out, "--trials", "8", "--prune-warmup", "0", "--startup-trials", "8") == 0
    trials = json.loads((out / "summary.json").read_text())["trials"]
    pruned = [t for t in trials if t["state"] == "pruned"]
    assert pruned and all(t["settings"]["lr"] == 3e-3 and t["number"] >= 3 for t in pruned)
    for trial in pruned:
        folder = out / "trials" / f"trial-{trial['number']}"
        log = [json.loads(line) for line in (folder / "log.jsonl").read_text().splitlines()]
        assert [r["epoch"] for r in log] == [0, 1] and not (folder / "metrics.json").exists()
        assert trial["curve"] == {"1": log[1]["metrics"]["recall@20"]}
    assert any(t["state"] == "complete" and t["settings"]["lr"] == 3e-3 for t in trials)  # before the pruner had 3 trials


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("[lr]\nlog_uniform = [0.0, 0.1]\n", 1, "lr: log_uniform needs LOW > 0"),
        ("# rate\n[lr]\nlog_uniform = [1e-4, 1e-2]\n\n[learning_rate]\nuniform = [0.1, 0.2]\n", 5, "'learning_rate' is neither a setting of a run"),
        ("[lr]\nlog_uniform = [1e-4, 1e-2]\n[loss_params.margin]\nuniform = [0.3, 0.9]\n", 3, "loss 'mmcl' has no parameter margin"),
        ("[loss_params]\nneg_weight = {uniform = [1, 2], choice = [3]}\n", 2, "loss_params.neg_weight needs exactly one distribution"),
        ("[mmcl]\ncount = 3\nmargins = [0.9, 0.3]\n", 1, "mmcl margins is the range"),
        ("[negatives]\nuniform = [10, 100]\n", 1, "setting 'negatives' must be int"),
        ("[lr\n", None, "invalid TOML"),
    ],
)
def test_a_bad_space_file_is_one_line_naming_file_and_line(files, tmp_path, capsys, text, where, message):
    base, space = files
    space.write_text(text)
    assert tune(base, space, tmp_path / "search") == 2
    err = capsys.readouterr().err.strip().splitlines()
    place = f"{space}:{where}: " if where else f"{space}: "
    assert len(err) == 1 and place in err[0] and message in err[0], err
    assert not (tmp_path / "search").exists()


def test_a_search_refuses_other_protocols_and_bad_budgets(files, tmp_path, capsys):
    base, space = files
    base.write_text(BASE + 'protocol = "paper"\n')
    assert tune(base, space, tmp_path / "s") == 2
    assert f"{base}:4: a search scores its trials on the validation split" in capsys.readouterr().err
    base.write_text(BASE)
    with pytest.raises(SystemExit):
        tune(base, space, tmp_path / "s", "--budget", "soon")
    assert "expected a duration such as 90s, 30m, 2h or 1h30m, got 'soon'" in capsys.readouterr().err


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800), ("2h", 7200), ("1h30m", 5400), ("1.5h", 5400)])
def test_budgets_read_as_durations(text, seconds):
    from marginrank.cli.tune import duration

    assert duration(text) == seconds
