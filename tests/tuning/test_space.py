import random
import tomllib
from pathlib import Path

import pytest

from marginrank.recommender import RecommenderParams
from marginrank.tuning import SearchSpace, SpaceError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "spaces"


class RandomTrial:
    """Draws as an Optuna trial does, from a seeded generator; remembers what it drew."""

    def __init__(self, seed, extreme=None):
        self.rng, self.extreme, self.params = random.Random(seed), extreme, {}

    def _pick(self, low, high):
        if self.extreme == "low":
            return low
        if self.extreme == "high":
            return high
        return self.rng.uniform(low, high)

    def suggest_float(self, name, low, high, *, log=False):
        self.params[name] = self._pick(low, high)
        return self.params[name]

    def suggest_int(self, name, low, high, *, log=False):
        self.params[name] = round(self._pick(low, high))
        return self.params[name]

    def suggest_categorical(self, name, choices):
        self.params[name] = self.rng.choice(choices)
        return self.params[name]


MMCL_SPACE = {"mmcl": {"count": [1, 2, 3, 4], "margins": [0.3, 0.95]}}


@pytest.mark.parametrize("extreme", [None, "low", "high"])
def test_mmcl_draws_ordered_margins_inside_the_range_and_non_negative_weights_summing_to_one(extreme):
    space = SearchSpace.from_table(MMCL_SPACE)
    counts = set()
    for seed in range(300):
        drawn = space.sample(RandomTrial(seed, extreme))["loss_params"]
        margins, weights = drawn["margins"], drawn["weights"]
        counts.add(len(margins))
        assert len(weights) == len(margins)
        assert all(0.3 < a < b < 0.95 for a, b in zip(margins, margins[1:])) and 0.3 < margins[-1] < 0.95
        assert all(w >= 0 for w in weights) and sum(weights) == pytest.approx(1, abs=1e-3)
        RecommenderParams(loss="mmcl", loss_params=drawn)  # the loss accepts every draw
    assert counts == {1, 2, 3, 4}


def test_mmcl_weights_can_be_far_apart():
    space = SearchSpace.from_table({"mmcl": {"count": 2, "margins": [0.5, 0.9]}})
    weights = [space.sample(RandomTrial(seed))["loss_params"]["weights"] for seed in range(200)]
    assert max(max(w) / max(min(w), 1e-4) for w in weights) > 50


def test_a_draw_sets_settings_and_table_entries_over_the_base_ones():
    space = SearchSpace.from_table({
        "lr": {"log_uniform": [1e-4, 1e-2]},
        "negatives": {"choice": [10, 100]},
        "loss_params": {"neg_weight": {"log_int": [10, 1000]}},
        "dropout": {"uniform": [0.0, 0.3]},
    })
    trial = RandomTrial(0)
    drawn = space.sample(trial)
    assert set(trial.params) == {"lr", "negatives", "loss_params.neg_weight", "dropout"}
    assert 1e-4 <= drawn["lr"] <= 1e-2 and drawn["negatives"] in (10, 100) and isinstance(drawn["loss_params"]["neg_weight"], int)
    base = RecommenderParams(loss="mmcl", loss_params={"margins": [0.5, 0.8], "weights": [0.5, 0.5]})
    params = space.apply(base, drawn)
    assert params.loss_params == {"margins": [0.5, 0.8], "weights": [0.5, 0.5], "neg_weight": drawn["loss_params"]["neg_weight"]}
    assert params.lr == drawn["lr"] and base.lr is None


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"lr": {"uniform": [0.1]}}, "lr", r"uniform takes \[LOW, HIGH\]"),
        ({"lr": {"log_uniform": [0.0, 1.0]}}, "lr", "needs LOW > 0"),
        ({"lr": {"uniform": [0.2, 0.1]}}, "lr", "needs LOW < HIGH"),
        ({"lr": {"gaussian": [0.1, 0.2]}}, "lr", "unknown distribution 'gaussian'"),
        ({"lr": {"uniform": [0.1, 0.2], "choice": [0.1]}}, "lr", "exactly one distribution"),
        ({"lr": 0.1}, "lr", "exactly one distribution"),
        ({"negatives": {"int": [10, 100.5]}}, "negatives", "takes two integers"),
        ({"negatives": {"choice": []}}, "negatives", "non-empty list"),
        ({"learning_rate": {"uniform": [0.1, 0.2]}}, "learning_rate", "neither a setting of a run"),
        ({"protocol": {"choice": ["paper"]}}, "protocol", "not searched"),
        ({"loss_params": {"margin": {"uniform": [0.1, float("nan")]}}}, "loss_params.margin", "two numbers"),
        ({"mmcl": {"count": 0, "margins": [0.3, 0.9]}}, "mmcl", "count must be an integer >= 1"),
        ({"mmcl": {"count": 3, "margins": [0.9, 0.3]}}, "mmcl", "LOW < HIGH"),
        ({"mmcl": {"count": 3}}, "mmcl", "takes count = K"),
        ({"mmcl": {"count": 3, "margins": [0.3, 0.9]}, "loss_params": {"weights": {"choice": [1]}}}, "mmcl", "do not search"),
        ({}, "", "empty"),
    ],
)
def test_bad_entries_name_their_key(table, key, message):
    with pytest.raises(SpaceError, match=message) as caught:
        SearchSpace.from_table(table)
    assert caught.value.key == key


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"negatives": {"uniform": [10, 100]}}, "negatives", "setting 'negatives' must be int"),
        ({"mmcl": {"count": 2, "margins": [0.3, 0.9]}}, "mmcl", "loss 'ccl' has no parameter"),
        ({"lr": {"log_uniform": [1e-4, 1e-2]}, "loss_params": {"margin": {"uniform": [0.3, 0.9]}},
          "dropout": {"uniform": [0.0, 1.5]}}, "dropout", "dropout"),
    ],
)
def test_the_check_tries_the_ends_on_the_base_settings_and_blames_the_entry(table, key, message):
    space = SearchSpace.from_table(table)
    with pytest.raises(SpaceError, match=message) as caught:
        space.check(RecommenderParams(loss="ccl"))
    assert caught.value.key == key


@pytest.mark.parametrize("loss", ["mmcl", "ccl", "bsl"])
def test_the_example_spaces_fit_their_losses(loss):
    space = SearchSpace.from_table(tomllib.loads((EXAMPLES / f"{loss}.toml").read_text()))
    space.check(RecommenderParams(loss=loss))
    for seed in range(20):
        space.apply(RecommenderParams(loss=loss), space.sample(RandomTrial(seed)))
