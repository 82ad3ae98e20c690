import json

import numpy as np
import pytest
from matplotlib.ticker import MaxNLocator

from marginrank import datasets
from marginrank.cli.figures import integer_ticks, pyplot
from marginrank.cli.main import main
from marginrank.cli.plot import score_samples, training_figure
from marginrank.cli.runs import load_run
from marginrank.data import holdout_split
from marginrank.metrics import evaluate_popularity


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("plot") / "run"
    assert main(["train", "--quiet", "--epochs", "3", "--negatives", "20", "--batch-size", "512", "--out", str(run)]) == 0
    return run


@pytest.fixture(scope="module")
def figure(trained_run):
    return training_figure(trained_run, n_users=50)


def _axes(figure, title_start):
    (axes,) = [a for a in figure.axes if a.get_title().startswith(title_start)]
    return axes


def test_every_visible_axis_is_labelled(figure):
    assert len(figure.axes) == 4  # loss, its learning-rate twin, metrics, scores
    for axes in figure.axes:
        if axes.xaxis.get_visible():
            assert axes.get_xlabel(), axes.get_title()
        if axes.yaxis.get_visible():
            assert axes.get_ylabel(), axes.get_title()


def test_epoch_axes_tick_whole_epochs_and_mark_the_best_one(figure, trained_run):
    log = [json.loads(line) for line in (trained_run / "log.jsonl").read_text().splitlines()]
    best = log[-1]["best_epoch"]
    for title in ("training loss", "selection metrics"):
        axes = _axes(figure, title)
        locator = axes.xaxis.get_major_locator()
        assert isinstance(locator, MaxNLocator) and locator._integer
        assert all(float(tick).is_integer() for tick in axes.get_xticks())
        assert any(list(line.get_xdata()) == [best, best] for line in axes.get_lines()), title


def test_metric_panel_draws_the_popularity_baseline_of_its_split(figure):
    fit_on, valid = holdout_split(datasets.load("synthetic").train, 0.1, seed=0)  # the run's validation split
    expected = evaluate_popularity(fit_on.matrix, valid.matrix, (20,), seed=0)
    lines = {line.get_label(): line for line in _axes(figure, "selection metrics").get_lines()}
    for key in ("recall@20", "ndcg@20"):
        baseline = lines[f"popularity {key}"]
        assert list(baseline.get_xdata()) == [0, 1]  # across the whole panel
        assert list(baseline.get_ydata()) == pytest.approx([expected[key]] * 2)
        assert key in lines


def test_score_panel_shows_held_out_positives_against_unseen_items(figure, trained_run):
    axes = _axes(figure, "scores")
    labels = ["unseen items", "training positives", "held-out test positives"]
    assert [text.get_text() for text in axes.get_legend().get_texts()] == labels
    assert [c.patches[0].get_label() for c in axes.containers] == labels and all(len(c.patches) > 1 for c in axes.containers)
    recommender = load_run(trained_run)
    test = datasets.load("synthetic").test
    users = np.arange(0, 2000, 40)
    held_out, training, unseen = score_samples(recommender, test, users)
    assert len(held_out) == test.matrix[users].nnz and len(training) == recommender.seen[users].nnz
    assert len(unseen) > 0.9 * len(held_out)
    assert held_out.mean() > unseen.mean()  # a model that beats popularity ranks its test items above random ones



def test_a_single_epoch_still_gets_whole_number_ticks():
    figure, axes = pyplot().subplots()
    axes.plot([1], [0.5], marker="o")
    integer_ticks(axes)
    ticks = [tick for tick in axes.get_xticks() if axes.get_xlim()[0] <= tick <= axes.get_xlim()[1]]
    assert ticks and all(float(tick).is_integer() for tick in ticks)
    pyplot().close(figure)
