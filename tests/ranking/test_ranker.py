"""The Ranker on planted data: it learns the planted order, saves and loads, resumes; the CLI around it."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from marginrank import Ranker
from marginrank.cli.main import main
from marginrank.data.groups import RankingGroups
from marginrank.errors import MarginRankError
from marginrank.metrics.groups import group_metrics


def planted(groups: int, seed: int, size: int = 12, features: int = 8) -> RankingGroups:
    """Rows x ~ N(0, I); relevance 0-3 by quartile of t(x) = v.x + tanh(x_0 x_1) plus noise within the group."""
    rng = np.random.default_rng(seed)
    direction = np.random.default_rng(0).normal(size=features)
    x = rng.normal(size=(groups * size, features))
    t = x @ direction + np.tanh(x[:, 0] * x[:, 1]) + 0.3 * rng.normal(size=len(x))
    ranks = t.reshape(groups, size).argsort(axis=1).argsort(axis=1)
    labels = (ranks * 4 // size).reshape(-1)
    return RankingGroups.from_arrays(x, labels, [size] * groups)


@pytest.fixture(scope="module")
def train():
    return planted(120, seed=1)


@pytest.fixture(scope="module")
def test():
    return planted(60, seed=2)


@pytest.fixture(scope="module")
def fitted(train):
    return Ranker(n_models=2, epochs=30).fit(train)


def test_learns_the_planted_order_far_above_random(fitted, test):
    learned = fitted.score(test)["ndcg@5"]
    random = group_metrics(np.random.default_rng(0).normal(size=test.labels.shape[0]), test)["ndcg@5"]
    assert learned > 0.9 and learned > random + 0.3


def test_lightgbm_layout_and_ranking_groups_give_the_same_model(train, test):
    sizes = train.sizes.tolist()
    a = Ranker(n_models=1, epochs=3).fit(train.features.numpy(), train.labels.numpy(), sizes)
    b = Ranker(n_models=1, epochs=3).fit(train)
    np.testing.assert_allclose(a.predict(test), b.predict(test), rtol=1e-6)


@pytest.mark.parametrize("loss", ["bpr", "hinge", "mmcl", "bsl"])
def test_every_loss_trains_to_a_useful_ranker(train, test, loss):
    assert Ranker(loss, n_models=1, epochs=15).fit(train).score(test)["ndcg@5"] > 0.8


def test_a_user_module_is_a_scorer(train, test):
    linear = torch.nn.Sequential(torch.nn.Linear(8, 1), torch.nn.Flatten(0))
    ranker = Ranker(scorer=linear, n_models=1, epochs=15, lr=1e-2).fit(train)
    assert ranker.score(test)["ndcg@5"] > 0.8


def test_save_and_load_score_alike(fitted, test, tmp_path):
    fitted.save(tmp_path / "r.pt")
    loaded = Ranker.load(tmp_path / "r.pt")
    np.testing.assert_allclose(loaded.predict(test), fitted.predict(test), rtol=1e-6)
    with pytest.raises(MarginRankError, match=r"expected features \[R, 8\]"):
        loaded.predict(np.zeros((3, 5)))


def test_an_interrupted_ensemble_resumes_to_the_same_model(train, test, tmp_path):
    whole = Ranker(n_models=2, epochs=6, patience=None, run_dir=tmp_path / "whole").fit(train)
    Ranker(n_models=1, epochs=6, patience=None, run_dir=tmp_path / "part" / "model-1").fit(train)
    resumed = Ranker(n_models=2, epochs=6, patience=None, run_dir=tmp_path / "part").fit(train, resume=True)
    np.testing.assert_allclose(resumed.predict(test), whole.predict(test), rtol=1e-5)
    assert [len(m["history"]) for m in resumed.members_] == [6, 6]


def test_every_epoch_records_the_collapse_check(fitted):
    record = fitted.members_[0]["history"][0]
    assert record["collapse"]["collapsed"] is False and record["collapse"]["pairwise_accuracy"] > 0.5


def test_unknown_settings_are_named():
    with pytest.raises(MarginRankError, match="Ranker has no setting hiden"):
        Ranker(hiden=(3,))
    with pytest.raises(MarginRankError, match="weights must be one of"):
        Ranker(weights="dcg")


def write_svmlight(path, data: RankingGroups) -> None:
    lines = [f"{int(label)} " + " ".join(f"{j + 1}:{v:.5f}" for j, v in enumerate(row))
             for label, row in zip(data.labels.tolist(), data.features.tolist())]
    path.write_text("\n".join(lines) + "\n")
    path.with_name(path.name + ".query").write_text("\n".join(map(str, data.sizes.tolist())) + "\n")


def test_cli_trains_reports_and_predicts(train, test, tmp_path, capsys):
    write_svmlight(tmp_path / "train.txt", train)
    write_svmlight(tmp_path / "test.txt", test)
    out = tmp_path / "run"
    code = main(["rank-train", str(tmp_path / "train.txt"), "--test", str(tmp_path / "test.txt"), "--out", str(out),
                 "--models", "1", "--epochs", "15", "--quiet"])
    assert code == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["ndcg@5"] > 0.8
    assert main(["rank-predict", str(tmp_path / "test.txt"), "--model", str(out), "--out", str(tmp_path / "s.txt")]) == 0
    scores = np.loadtxt(tmp_path / "s.txt")
    assert group_metrics(scores, test)["ndcg@5"] == pytest.approx(metrics["test"]["ndcg@5"], abs=1e-5)
    capsys.readouterr()
    assert main(["rank-train", str(tmp_path / "train.txt"), "--out", str(out)]) == 2
    assert "already holds a finished ranker.pt" in capsys.readouterr().err


def test_cli_bad_input_is_one_line_and_exit_2(tmp_path, capsys):
    (tmp_path / "bad.txt").write_text("1 qid:1 1:0.5\n0 1:0.2\n")
    assert main(["rank-train", str(tmp_path / "bad.txt"), "--out", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("marginrank: error: ") and "bad.txt:2: no qid" in err and "\n" not in err
    assert not (tmp_path / "run").exists()
