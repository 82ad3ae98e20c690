import argparse
import json

import numpy as np
import pytest
import torch

from marginrank import Recommender, datasets
from marginrank.cli.main import build_parser, main
from marginrank.cli.settings import resolve

QUICK = ["--quiet", "--epochs", "3", "--negatives", "20", "--batch-size", "512"]


def metrics_of(run):
    return json.loads((run / "metrics.json").read_text())


def test_default_job_beats_popularity(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", "--quiet", "--out", str(run)]) == 0
    out = capsys.readouterr().out
    assert "recall@20" in out and "popularity" in out
    metrics = metrics_of(run)
    assert metrics["protocol"] == "validation" and metrics["optimistic"] is False
    assert metrics["recall@20"] > 1.5 * metrics["popularity"]["recall@20"]
    assert {"config.toml", "log.jsonl", "last.pt", "best.pt", "metrics.json", "model.pt"} <= {p.name for p in run.iterdir()}
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    start, log = log[0], log[1:]  # the model as built is evaluated first, as epoch 0
    assert start["epoch"] == 0 and "metrics" in start and "loss" not in start
    assert [r["epoch"] for r in log] == list(range(1, len(log) + 1))
    assert all("loss" in r and "examples_per_s" in r and "metrics" in r and r["phase"] == "selection" for r in log)
    assert all(r["elapsed"] > earlier["elapsed"] for earlier, r in zip([start, *log], log))
    # the final model is refit on every training pair for the selected number of epochs
    assert metrics["refit"] == {"epochs": metrics["best_epoch"], "pairs": 47898}
    refit_log = [json.loads(line) for line in (run / "refit" / "log.jsonl").read_text().splitlines()]
    assert [r["lr"] for r in refit_log] == [r["lr"] for r in log[: metrics["best_epoch"]]]
    assert all(r["phase"] == "refit" and "metrics" not in r for r in refit_log)
    assert f"refit on all 47,898 training pairs for {metrics['best_epoch']} epochs" in out


@pytest.mark.parametrize("extra", [[], ["--average-decay", "0.95"], ["--positive-sampling", "users"]])
def test_resume_equals_an_uninterrupted_run(tmp_path, extra):
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", *QUICK, *extra, "--epochs", "4", "--patience", "10", "--out", str(straight)]) == 0
    assert main(["train", *QUICK, *extra, "--epochs", "2", "--patience", "10", "--out", str(resumed)]) == 0
    assert main(["train", "--resume", "--quiet", "--epochs", "4", "--out", str(resumed)]) == 0
    a, b = metrics_of(straight), metrics_of(resumed)
    assert a["epochs_run"] == b["epochs_run"] == 4
    for key in ("recall@20", "ndcg@20", "map@20"):
        assert a[key] == b[key]
    log_a = [json.loads(line) for line in (straight / "log.jsonl").read_text().splitlines()]
    log_b = [json.loads(line) for line in (resumed / "log.jsonl").read_text().splitlines()]
    assert [r.get("loss") for r in log_a] == [r.get("loss") for r in log_b]
    # the collapse monitor's yardstick (best spread so far) travels with the checkpoint
    assert [r.get("collapse") for r in log_a] == [r.get("collapse") for r in log_b]


def test_config_file_and_options(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('loss = "ccl"\nepochs = 1\nnegatives = 10\nprogress = false\n[loss_params]\nmargin = 0.8\n')
    run = tmp_path / "run"
    assert main(["train", "--config", str(config), "--loss-param", "neg_weight=50", "--dim", "8", "--out", str(run)]) == 0
    resolved = (run / "config.toml").read_text()
    assert 'loss = "ccl"' in resolved and "dim = 8" in resolved and "margin = 0.8" in resolved and "neg_weight = 50" in resolved
    plain = tmp_path / "plain.toml"
    plain.write_text('loss = "ccl"\nepochs = 1\nnegatives = 10\nprogress = false\n')
    assert main(["train", "--config", str(plain), "--loss", "bpr", "--out", str(tmp_path / "r2")]) == 0
    assert 'loss = "bpr"' in (tmp_path / "r2" / "config.toml").read_text()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--loss", "nope"], "unknown loss 'nope'"),
        (["--protocol", "cheat"], "protocol must be one of"),
        (["--loss", "ccl", "--loss-param", "gamma=2"], "has no parameter gamma"),
        (["--model", "lightgcn", "--model-param", "depth=2"], "its own settings: layers (option --model-param)"),
        (["--lr", "-1"], "lr must be > 0, got -1.0 (option --lr)"),
        (["--eval-every", "0"], "eval_every must be an integer >= 1, got 0"),
        (["--lr-factor", "1.5"], "lr_factor must be in (0, 1), got 1.5"),
        (["--seed", "-1"], "seed must be an integer >= 0, got -1"),
        (["--time-limit", "0"], "time_limit must be > 0, got 0.0"),
    ],
)
def test_bad_options_exit_2_with_one_line(tmp_path, capsys, argv, message):
    assert main(["train", "--quiet", "--out", str(tmp_path / "r"), *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_bad_toml_names_the_file(tmp_path, capsys):
    config = tmp_path / "bad.toml"
    config.write_text("epochs = 'ten'\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert "setting 'epochs' must be int" in capsys.readouterr().err
    config.write_text("epoch = 3\n")
    assert main(["train", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert f"{config}: unknown setting(s) ['epoch']" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        ("epochs = 2\n# the cadence\neval_every = 0\n", 3, "eval_every must be an integer >= 1, got 0"),
        ('loss = "ccl"\nepochs = "ten"\n', 2, "setting 'epochs' must be int, got 'ten'"),
        ('loss = "ccl"\n\n[loss_params]\ntemperature = 0.1\n', 3, "loss 'ccl' has no parameter temperature"),
        ('epochs = 1\nloss = "cccl"\n', 2, "unknown loss 'cccl'"),
        ('split_seed = "a"\n', 1, "setting 'split_seed' must be an integer, got 'a'"),
        ("epochs = 1\nsplit_seed = -3\n", 2, "split_seed must be >= 0, got -3"),
        ('epochs = 1\nsplit = "latest"\n', 2, "split must be one of holdout, leave-last-out, got 'latest'"),
        ('header = "yes"\n', 1, "setting 'header' must be true or false, got 'yes'"),
        ("min_rating = true\n", 1, "setting 'min_rating' must be a number, got True"),
        ("min_rating = nan\n", 1, "min_rating must be a finite number, got nan"),
    ],
)
def test_bad_value_in_toml_names_file_and_line(tmp_path, capsys, text, where, message):
    config = tmp_path / "bad.toml"
    config.write_text(text)
    assert main(["train", "--quiet", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"{config}:{where}: {message}" in err[0]


def test_an_option_overriding_a_bad_file_value_is_not_blamed_on_the_file(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("eval_every = 0\n")
    assert main(["train", "--quiet", "--config", str(config), "--eval-every", "-2", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "eval_every must be an integer >= 1, got -2" in err and str(config) not in err


def test_split_seed_from_the_config_file_is_used(tmp_path):
    """The option's absence must not override the file (it once defaulted to 0 and always won)."""
    rows = "\n".join(f"u{u},i{(u * 7 + k) % 40}" for u in range(60) for k in range(6))
    data = tmp_path / "pairs.csv"
    data.write_text("user,item\n" + rows + "\n")
    for seed in (0, 5):
        config = tmp_path / f"seed{seed}.toml"
        config.write_text(f'data = "{data}"\nsplit_seed = {seed}\nepochs = 1\nnegatives = 5\n')
        assert main(["train", "--quiet", "--config", str(config), "--out", str(tmp_path / f"r{seed}")]) == 0
        assert f"split_seed = {seed}" in (tmp_path / f"r{seed}" / "config.toml").read_text()


def test_data_settings_from_a_config_file_are_kept_in_the_run(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('split = "leave-last-out"\nheader = false\nmin_rating = 4\n')
    settings = resolve(argparse.Namespace(config=config))
    assert (settings.split, settings.header, settings.min_rating) == ("leave-last-out", False, 4.0)
    again = tmp_path / "again.toml"
    again.write_text(settings.to_toml())
    assert resolve(argparse.Namespace(config=again)) == settings


def test_a_config_file_may_start_with_a_byte_order_mark(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text('\ufeffsplit = "leave-last-out"\n', encoding="utf-8")
    assert resolve(argparse.Namespace(config=config)).split == "leave-last-out"
    config.write_text('\ufeffsplit = "latest"\n', encoding="utf-8")
    assert main(["train", "--quiet", "--config", str(config), "--out", str(tmp_path / "r")]) == 2
    assert f"{config}:1: split must be one of" in capsys.readouterr().err


def test_evaluate_recommend_export_plot(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(run), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["recall@20"] == pytest.approx(metrics_of(run)["recall@20"])
    assert main(["recommend", str(run), "--user", "3", "--user", "7", "-k", "5", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["user"] for line in lines] == [3, 7] and all(len(line["items"]) == 5 for line in lines)
    assert all(isinstance(item, int) for line in lines for item in line["items"])
    assert main(["export", str(run)]) == 0
    users = np.load(run / "export" / "user_factors.npy")
    assert users.shape[0] == len((run / "export" / "user_ids.txt").read_text().splitlines())
    assert main(["plot", str(run)]) == 0
    assert (run / "training.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["recommend", str(run), "--user", "no-such-user"]) == 2
    assert "unknown user id 'no-such-user'" in capsys.readouterr().err


def test_corrupt_checkpoint_is_a_clear_error(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(run)]) == 0
    (run / "model.pt").write_bytes(b"not a checkpoint")
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    err = capsys.readouterr().err
    assert "model.pt: not a marginrank model or checkpoint" in err and "Traceback" not in err
    for text in ("hello\n", "this is not a model\n"):  # text trips torch's unpickler in odd ways
        (run / "model.pt").write_text(text)
        assert main(["evaluate", str(run)]) == 2
        assert "not a marginrank model or checkpoint" in capsys.readouterr().err
    torch.save({"format": "marginrank-recommender-1"}, run / "model.pt")
    assert main(["evaluate", str(run)]) == 2
    assert "model.pt: checkpoint lacks params, model" in capsys.readouterr().err
    (run / "last.pt").write_bytes((run / "last.pt").read_bytes()[:100])
    assert main(["train", "--resume", "--quiet", "--out", str(run)]) == 2
    assert "last.pt" in capsys.readouterr().err


def test_existing_run_is_never_overwritten(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--out", str(run)]) == 0
    before = (run / "model.pt").read_bytes()
    assert main(["train", *QUICK, "--out", str(run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    assert (run / "model.pt").read_bytes() == before


def test_recommend_never_returns_training_items():
    data = datasets.load("synthetic", n_users=200, n_items=120, mean_items_per_user=40)
    rec = Recommender(loss="ccl", negatives=20, epochs=2, progress=False).fit(data)
    users = data.train.user_ids
    items, scores = rec.recommend(users, k=60)
    seen = data.train.matrix.toarray() > 0
    assert not seen[np.arange(len(users))[:, None], items].any()
    assert np.all(np.diff(scores, axis=1) <= 1e-6)  # sorted by score
    loaded_path = rec.metrics_  # fitted metrics exist on a Dataset fit
    assert "recall@20" in loaded_path


@pytest.mark.parametrize(("options", "refits"), [([], True), (["--no-refit"], False), (["--protocol", "paper"], False),
                                                  (["--restore-best-on-lr-cut"], False)])
def test_train_refits_by_default_under_the_validation_protocol(options, refits):
    settings = resolve(build_parser().parse_args(["train", *options]))
    assert settings.recommender.refit is refits


def test_the_run_config_leaves_refit_to_follow_the_protocol(tmp_path):
    config = tmp_path / "config.toml"
    config.write_text(resolve(build_parser().parse_args(["train"])).to_toml())
    assert "refit" not in config.read_text()
    paper = resolve(build_parser().parse_args(["train", "--config", str(config), "--protocol", "paper"]))
    assert paper.recommender.protocol == "paper" and not paper.recommender.refit
    config.write_text(resolve(build_parser().parse_args(["train", "--no-refit"])).to_toml())
    assert "refit = false" in config.read_text() and not resolve(argparse.Namespace(config=config)).recommender.refit


def test_a_refit_under_the_paper_protocol_is_refused(tmp_path, capsys):
    assert main(["train", *QUICK, "--protocol", "paper", "--refit", "--out", str(tmp_path / "run")]) == 2
    assert "refit retrains on the validation pairs; it needs protocol 'validation', not 'paper'" in capsys.readouterr().err


def test_paper_protocol_is_marked_optimistic(tmp_path):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--protocol", "paper", "--out", str(run)]) == 0
    metrics = metrics_of(run)
    assert metrics["optimistic"] is True and "optimistic" in metrics["note"]
    first = json.loads((run / "log.jsonl").read_text().splitlines()[0])
    assert first["optimistic"] is True


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (["--dim", "32"], "--resume keeps dim = 64 (its checkpoint depends on it); got 32"),
        (["--optimizer", "sgd"], "--resume keeps optimizer = 'adam'"),
        (["--split-seed", "3"], "--resume keeps split_seed = 0"),
        (["--seed", "7"], "--resume keeps seed = 0"),
        (["--protocol", "paper"], "--resume keeps protocol = 'validation'"),
        (["--lr", "0.5"], "--resume keeps lr = "),
        (["--model", "lightgcn"], "--resume keeps model = 'mf'"),
        (["--model-param", "dropout_before_norm=true"], "--resume keeps model_params = {}"),
    ],
)
def test_resume_refuses_what_the_checkpoint_fixes_and_keeps_the_config(tmp_path, capsys, change, message):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "1", "--out", str(run)]) == 0
    config = (run / "config.toml").read_text()
    capsys.readouterr()
    assert main(["train", "--resume", "--quiet", "--epochs", "2", *change, "--out", str(run)]) == 2
    assert message in capsys.readouterr().err
    assert (run / "config.toml").read_text() == config  # a refused resume leaves the run as it was


def test_resume_without_a_checkpoint_writes_nothing(tmp_path, capsys):
    missing = tmp_path / "missing"
    assert main(["train", "--resume", "--quiet", "--out", str(missing)]) == 2
    assert "no last.pt here to resume from" in capsys.readouterr().err
    assert not missing.exists()


def test_evaluate_refuses_data_that_no_longer_gives_the_training_split(tmp_path, capsys, monkeypatch):
    rng = np.random.default_rng(0)
    rows = [f"{u},{i}" for u in range(60) for i in rng.choice(40, 8, replace=False)]
    data = tmp_path / "pairs.csv"
    data.write_text("user,item\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    monkeypatch.chdir(tmp_path)
    assert main(["train", *QUICK, "--data", "pairs.csv", "--out", str(run)]) == 0
    assert f'data = "{data}"' in (run / "config.toml").read_text()  # absolute: found from anywhere
    monkeypatch.chdir(tmp_path.parent)
    assert main(["evaluate", str(run)]) == 0
    with data.open("a") as handle:
        handle.write("60,0\n60,1\n60,2\n")
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    assert "the data no longer splits into the training pairs this model was trained on" in capsys.readouterr().err


def test_unwritable_output_paths_are_one_line_errors(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "1", "--out", str(run)]) == 0
    a_file = tmp_path / "a_file"
    a_file.write_text("")
    capsys.readouterr()
    assert main(["export", str(run), "--out", str(a_file / "sub")]) == 2
    assert main(["train", *QUICK, "--out", str(a_file / "run")]) == 2
    err = capsys.readouterr().err
    assert err.lower().count("not a directory") == 2 and "Traceback" not in err


def test_plot_names_a_bad_option_or_log_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--epochs", "2", "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["plot", str(run), "--users", "0"]) == 2
    assert "--users must be at least 1, got 0" in capsys.readouterr().err
    log = run / "log.jsonl"
    log.write_text(log.read_text().splitlines()[0] + "\n[1, 2]\n")
    assert main(["plot", str(run)]) == 2
    assert f"{log}:2: not an epoch record" in capsys.readouterr().err


def test_a_run_that_fails_before_training_leaves_no_folder(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--ks", "5000", "--monitor", "recall@5000", "--out", str(run)]) == 2
    assert "go beyond the 1000 items" in capsys.readouterr().err
    assert not run.exists()


@pytest.fixture(scope="module")
def split_folder(tmp_path_factory):
    """A LightGCN-format split (train.txt, test.txt) of planted data."""
    from marginrank.data import write_lightgcn

    folder = tmp_path_factory.mktemp("split")
    data = datasets.load("synthetic", n_users=400, n_items=200)
    write_lightgcn(data.train, folder / "train.txt")
    write_lightgcn(data.test, folder / "test.txt")
    return folder


def test_lightgcn_trains_evaluates_resumes_exactly_and_recommends(tmp_path, capsys, split_folder):
    lightgcn = ["--model", "lightgcn", "--model-param", "layers=2", "--data", str(split_folder), "--loss", "bsl",
                "--shared-negatives", "--lr", "0.01", "--patience", "10"]
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert main(["train", *QUICK, *lightgcn, "--epochs", "4", "--out", str(straight)]) == 0
    assert main(["train", *QUICK, *lightgcn, "--epochs", "2", "--out", str(resumed)]) == 0
    assert main(["train", "--resume", "--quiet", "--epochs", "4", "--out", str(resumed)]) == 0
    a, b = metrics_of(straight), metrics_of(resumed)
    assert a["epochs_run"] == b["epochs_run"] == 4 and a["recall@20"] == b["recall@20"]
    assert a["recall@20"] > 1.5 * a["popularity"]["recall@20"]
    config = (straight / "config.toml").read_text()
    assert 'model = "lightgcn"' in config and "[model_params]\nlayers = 2" in config
    capsys.readouterr()
    assert main(["evaluate", str(straight), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["recall@20"] == pytest.approx(a["recall@20"])
    assert main(["recommend", str(straight), "--user", "3", "-k", "5", "--json"]) == 0
    (line,) = [json.loads(text) for text in capsys.readouterr().out.splitlines()]
    assert line["user"] == 3 and len(line["items"]) == 5


def test_a_miner_and_its_parameters_from_the_command_line(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--miner", "semi-hard", "--miner-param", "margin=0.3", "--out", str(run)]) == 0
    assert 'miner = "semi-hard"' in (run / "config.toml").read_text() and "[miner_params]\nmargin = 0.3" in (run / "config.toml").read_text()
    capsys.readouterr()
    assert main(["train", *QUICK, "--miner", "hard", "--miner-param", "margin=1", "--out", str(tmp_path / "bad")]) == 2
    assert "miner 'hard' has no parameter margin; it accepts: k" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


def test_evaluate_finds_moved_data_with_the_data_option(tmp_path, capsys):
    rng = np.random.default_rng(0)
    rows = [f"{u},{i}" for u in range(60) for i in rng.choice(40, 8, replace=False)]
    before, after = tmp_path / "before", tmp_path / "after"
    before.mkdir()
    (before / "pairs.csv").write_text("user,item\n" + "\n".join(rows) + "\n")
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--data", str(before / "pairs.csv"), "--ks", "5", "--out", str(run)]) == 0
    before.rename(after)
    capsys.readouterr()
    assert main(["evaluate", str(run)]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert f"{before / 'pairs.csv'}: the run's data is not there any more: pass --data" in line
    assert main(["evaluate", str(run), "--data", str(after / "pairs.csv"), "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert evaluated["recall@5"] == pytest.approx(metrics_of(run)["recall@5"])
    assert evaluated["popularity"] == metrics_of(run)["popularity"]


def test_one_cut_off_alone_is_enough(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *QUICK, "--ks", "5", "--out", str(run)]) == 0
    assert 'monitor = "recall@5"' in (run / "config.toml").read_text()
    assert set(metrics_of(run)["selection"]) >= {"recall@5"} and "recall@5" in metrics_of(run)
    capsys.readouterr()
    assert main(["evaluate", str(run), "--ks", "5", "10", "--json"]) == 0
    evaluated = json.loads(capsys.readouterr().out)
    assert {"recall@5", "recall@10"} <= set(evaluated) and {"recall@5", "recall@10"} <= set(evaluated["popularity"])
