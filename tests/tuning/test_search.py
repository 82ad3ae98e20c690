import sys

import optuna
import pytest

from marginrank import datasets
from marginrank.errors import MarginRankError
from marginrank.recommender import RecommenderParams
from marginrank.tuning import ReportToTrial, Search, SearchSpace, counted, trial_dir
from marginrank.tuning.dependency import import_optuna

optuna.logging.set_verbosity(optuna.logging.ERROR)

SPACE = {"lr": {"log_uniform": [1e-4, 1e-2]}, "loss_params": {"neg_weight": {"log_uniform": [10.0, 1000.0]}}}


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=300, n_items=150, mean_items_per_user=20)


def quick(**changes):
    return RecommenderParams(**{"epochs": 2, "negatives": 10, "batch_size": 256, "progress": False, **changes})


def test_a_trial_behind_the_median_at_an_epoch_is_pruned_and_one_ahead_is_not():
    study = optuna.create_study(direction="maximize", pruner=optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0))
    for values in ([0.30, 0.32], [0.28, 0.30]):
        trial = study.ask()
        hook = ReportToTrial(trial, "recall@20")
        for epoch, value in enumerate(values, start=1):
            hook(epoch, {"recall@20": value, "ndcg@20": 0.0})
        study.tell(trial, max(values))
    ahead = ReportToTrial(study.ask(), "recall@20")
    ahead(1, {"recall@20": 0.35})
    behind_trial = study.ask()
    behind = ReportToTrial(behind_trial, "recall@20")
    with pytest.raises(optuna.TrialPruned, match="pruned at epoch 1: validation recall@20 0.1000"):
        behind(1, {"recall@20": 0.10})
    assert behind_trial.study.trials[-1].intermediate_values == {1: 0.10}


def test_without_optuna_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "optuna", None)
    with pytest.raises(MarginRankError, match=r"pip install 'marginrank\[tune\]'"):
        import_optuna()


def test_a_search_takes_training_pairs_and_the_validation_protocol_only(data, tmp_path):
    space = SearchSpace.from_table(SPACE)
    with pytest.raises(MarginRankError, match="training Interactions alone"):
        Search(data, quick(), space, tmp_path)
    with pytest.raises(MarginRankError, match="protocol must be 'validation', not 'paper'"):
        Search(data.train, quick(protocol="paper"), space, tmp_path)


def test_an_interrupted_trial_is_run_again_with_its_settings(data, tmp_path):
    space = SearchSpace.from_table(SPACE)
    study = Search(data.train, quick(), space, tmp_path, startup_trials=1).run(2)
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE"]
    cut = study.ask()  # a search killed during this trial: it stays RUNNING in study.db
    space.sample(cut)
    study = Search(data.train, quick(), space, tmp_path, startup_trials=1).run(3)
    trials = study.trials
    assert [t.state.name for t in trials] == ["COMPLETE", "COMPLETE", "FAIL", "COMPLETE"]
    assert trials[2].user_attrs["interrupted"] and trials[3].user_attrs["retry_of"] == 2
    assert trials[3].params == trials[2].params
    assert len(counted(study)) == 3
    assert (trial_dir(tmp_path, 3) / "metrics.json").exists() and not (trial_dir(tmp_path, 3) / "last.pt").exists()


def test_a_study_resumes_only_with_the_settings_and_space_it_started_with(data, tmp_path):
    Search(data.train, quick(), SearchSpace.from_table(SPACE), tmp_path).run(1)
    with pytest.raises(MarginRankError, match="other settings dim, space lr"):
        Search(data.train, quick(dim=8), SearchSpace.from_table({**SPACE, "lr": {"log_uniform": [1e-3, 1e-2]}}), tmp_path).run(2)
    assert len(Search(data.train, quick(progress=True), SearchSpace.from_table(SPACE), tmp_path).run(2).trials) == 2
