import pytest
import torch
from torch import nn

from marginrank import Recommender, datasets
from marginrank.errors import MarginRankError
from marginrank.training import WeightAverage

from tests.training.test_trainer import make_trainer


def test_the_average_follows_its_formula_with_the_warm_up():
    model = nn.Linear(3, 2)
    steps = [torch.randn(2, 3) for _ in range(30)]
    expected = model.weight.detach().clone()
    average = WeightAverage(model, decay=0.9)
    for t, weights in enumerate(steps):
        with torch.no_grad():
            model.weight.copy_(weights)
        average.update()
        d = min(0.9, (1 + t) / (10 + t))
        expected = d * expected + (1 - d) * weights
    assert torch.allclose(average.average[0], expected, atol=1e-6)
    assert average.steps == 30


def test_applied_swaps_the_average_in_and_the_own_weights_back_even_on_error():
    model = nn.Linear(3, 2)
    average = WeightAverage(model, decay=0.5)
    with torch.no_grad():
        model.weight.add_(1.0)
    own = model.weight.detach().clone()
    with average.applied():
        assert torch.equal(model.weight, average.average[0])
    assert torch.equal(model.weight, own)
    with pytest.raises(RuntimeError, match="boom"), average.applied():
        raise RuntimeError("boom")
    assert torch.equal(model.weight, own)


def test_bad_decay_and_mismatched_checkpoint_are_clear_errors():
    with pytest.raises(MarginRankError, match="decay must be in"):
        WeightAverage(nn.Linear(2, 2), decay=1.0)
    with pytest.raises(MarginRankError, match="average_decay must be in"):
        Recommender(average_decay=0.0)
    state = WeightAverage(nn.Linear(2, 2), decay=0.5).state_dict()
    with pytest.raises(MarginRankError, match="shapes"):
        WeightAverage(nn.Linear(3, 2), decay=0.5).load_state_dict(state)


@pytest.fixture(scope="module")
def data():
    return datasets.load("synthetic", n_users=300, n_items=150, mean_items_per_user=20)


def test_the_trainer_evaluates_and_keeps_the_averaged_weights(data):
    trainer = make_trainer(data, average_decay=0.99)
    seen = []

    def evaluator(model):
        seen.append((model.user_embedding.weight.detach().clone(), trainer.average.average[0].clone()))
        return {"recall@20": float(len(seen) == 2)}  # epoch 2 is the best

    trainer.evaluator = evaluator
    trainer.fit(epochs=3)
    for evaluated, average in seen:
        assert torch.equal(evaluated, average)
    assert not torch.equal(trainer.model.user_embedding.weight, trainer.average.average[0])  # trains on its own
    assert trainer.best_epoch == 2 and torch.equal(trainer.best_state["user_embedding.weight"], seen[1][0])
    trainer.restore_best()
    assert torch.equal(trainer.model.user_embedding.weight, seen[1][0])


def test_without_an_evaluation_the_fitted_model_holds_the_average(data):
    trainer = make_trainer(data, average_decay=0.9)
    trainer.evaluator = None
    trainer.fit(epochs=2)
    assert not torch.equal(trainer.model.user_embedding.weight, trainer.average.average[0])
    trainer.restore_best()
    assert torch.equal(trainer.model.user_embedding.weight, trainer.average.average[0])


def test_an_averaged_recommender_ranks_as_well_as_a_plain_one(data):
    settings = dict(negatives=20, epochs=3, lr=1e-2, protocol="none", collapse_check=False, progress=False, seed=1)
    plain = Recommender(**settings).fit(data.train).evaluate(data.test)
    averaged = Recommender(**settings, average_decay=0.99).fit(data.train).evaluate(data.test)
    assert averaged["recall@20"] >= 0.95 * plain["recall@20"] > 0.1
