"""A short real-data run: Gowalla, a few epochs on the CPU, well above the popularity baseline."""

import pytest

from marginrank import Recommender
from marginrank.data import Dataset, read_lightgcn_split
from tests.conftest import shared_split


@pytest.mark.slow
@pytest.mark.realdata
def test_short_gowalla_run_beats_popularity_clearly():
    train, test = read_lightgcn_split(shared_split("gowalla"))
    rec = Recommender(
        loss="bsl", loss_params={"tau1": 0.08, "tau2": 1.22}, negatives=100, shared_negatives=True, group_size=32,
        batch_size=1024, lr=1e-3, epochs=3, protocol="none", exclude_positives=False, progress=False,
        collapse_check=False, seed=0,
    ).fit(Dataset("gowalla", train, test))
    popularity = rec.metrics_["popularity"]["recall@20"]
    assert popularity == pytest.approx(0.0416, abs=0.001)
    assert rec.metrics_["recall@20"] > 2 * popularity
