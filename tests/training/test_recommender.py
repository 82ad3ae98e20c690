import numpy as np
import pytest

from marginrank import Recommender, datasets
from marginrank.data import read_delimited
from marginrank.errors import MarginRankError


def test_fit_save_load_round_trip(tmp_path):
    data = datasets.load("synthetic", n_users=150, n_items=100)
    rec = Recommender(loss="mmcl", negatives=20, epochs=2, progress=False, seed=3).fit(data)
    rec.save(tmp_path / "m.pt")
    again = Recommender.load(tmp_path / "m.pt")
    a_items, a_scores = rec.recommend([1, 2, 3], k=10)
    b_items, b_scores = again.recommend([1, 2, 3], k=10)
    np.testing.assert_array_equal(a_items, b_items)
    np.testing.assert_allclose(a_scores, b_scores)
    assert again.evaluate(data.test) == rec.evaluate(data.test)


def test_string_ids_from_a_csv(tmp_path):
    rng = np.random.default_rng(0)
    rows = [f"user{u},item{i},{r}" for u in range(40) for i, r in zip(rng.choice(30, 8, replace=False), rng.integers(1, 6, 8))]
    path = tmp_path / "r.csv"
    path.write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    rec = Recommender(negatives=5, epochs=1, progress=False, protocol="none").fit(read_delimited(path))
    items, _ = rec.recommend(["user7"], k=3)
    assert all(str(item).startswith("item") for item in items[0])
    with pytest.raises(MarginRankError, match="unknown user id 'user99'"):
        rec.recommend(["user99"])


def test_unknown_option_and_unfitted_use():
    with pytest.raises(MarginRankError, match="unknown Recommender option"):
        Recommender(negative=3)
    with pytest.raises(MarginRankError, match="not fitted"):
        Recommender().recommend([0])
