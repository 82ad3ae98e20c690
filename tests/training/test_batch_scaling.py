"""Batch size, learning rate and pool grouping chosen from the data size when left unset."""

import math

import pytest

from marginrank import Recommender, datasets
from marginrank.recommender import RecommenderParams
from marginrank.training.batch_scaling import auto_batch_size, pool_group_size, scaled_lr


@pytest.mark.parametrize("n_pairs, batch", [(10, 256), (40_000, 512), (100_000, 2048), (5_000_000, 4096)])
def test_the_batch_is_a_power_of_two_near_64_steps_per_epoch_within_bounds(n_pairs, batch):
    chosen = auto_batch_size(n_pairs)
    assert chosen == batch
    assert chosen & (chosen - 1) == 0


def test_the_lr_follows_the_square_root_rule_from_3e_4_at_4096():
    assert scaled_lr(4096) == pytest.approx(3e-4)
    for batch in (256, 512, 2048):
        assert scaled_lr(batch) / scaled_lr(4096) == pytest.approx(math.sqrt(4096 / batch))


def test_unset_settings_are_filled_and_set_ones_kept():
    chosen = RecommenderParams().for_pairs(1_100_000)
    assert (chosen.batch_size, chosen.group_size) == (4096, 128) and chosen.lr == pytest.approx(3e-4)
    kept = RecommenderParams(batch_size=1000, lr=0.01, group_size=7).for_pairs(1_100_000)
    assert (kept.batch_size, kept.lr, kept.group_size) == (1000, 0.01, 7)
    per_example = RecommenderParams(shared_negatives=False).for_pairs(1_100_000)
    assert per_example.group_size is None and per_example.batch_size == 4096
    assert pool_group_size(per_example.batch_size) == 128


def test_fit_says_what_it_chose_in_one_line_and_records_it(capsys):
    data = datasets.load("synthetic", n_users=300, n_items=200)
    rec = Recommender(negatives=10, epochs=1, progress=True, progress_bar=False).fit(data)
    n_pairs = round(len(data.train) * 0.9)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("chosen for ")]
    assert len(lines) == 1 and "batch_size 256" in lines[0] and "group_size 8" in lines[0]
    assert abs(int(lines[0].split()[2].replace(",", "")) - n_pairs) < 0.02 * n_pairs
    assert rec.metrics_["scaled_settings"] == {"batch_size": 256, "lr": pytest.approx(scaled_lr(256)), "group_size": 8}
    assert rec.params.batch_size is None  # the settings as given stay as given


def test_nothing_is_said_when_everything_is_set(capsys):
    data = datasets.load("synthetic", n_users=300, n_items=200)
    Recommender(negatives=10, epochs=1, batch_size=128, lr=1e-3, group_size=16, progress=True, progress_bar=False).fit(data)
    assert "chosen for" not in capsys.readouterr().err
