"""The README's example of reading one's own file runs as written."""

import re
from pathlib import Path

import numpy as np

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_block(needle: str) -> str:
    """The README's Python code block that contains ``needle``."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.DOTALL)
    (block,) = [block for block in blocks if needle in block]
    return block


def test_the_read_delimited_example_runs(tmp_path, monkeypatch, one_thread):
    rng = np.random.default_rng(0)
    rows = [f"{user},{item},{rng.integers(1, 6)}" for user in range(40) for item in rng.choice(60, 20, replace=False)]
    (tmp_path / "ratings.csv").write_text("user,item,rating\n" + "\n".join(rows) + "\n")
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    exec(readme_block('read_delimited("ratings.csv"'), namespace)
    assert namespace["ratings"].ratings.min() >= 4
    assert 0 <= namespace["rec"].metrics_["recall@20"] <= 1


def test_the_ranker_and_metric_learner_example_runs(one_thread):
    rng = np.random.default_rng(0)
    direction = rng.normal(size=6)

    def lists(groups: int):
        x = rng.normal(size=(groups * 8, 6))
        order = (x @ direction).reshape(groups, 8).argsort(axis=1).argsort(axis=1)
        return x, (order // 3).reshape(-1), [8] * groups

    X, y, sizes = lists(60)
    X_test, y_test, test_sizes = lists(20)
    centres = rng.normal(scale=4, size=(10, 10))
    labels = np.repeat(np.arange(10), 12)
    namespace = {"X": X, "y": y, "sizes": sizes, "X_test": X_test, "y_test": y_test, "test_sizes": test_sizes,
                 "images": centres[labels] + rng.normal(size=(120, 10)), "labels": labels}
    exec(readme_block("Ranker().fit(X, y, group=sizes)"), namespace)
    assert namespace["scores"].shape == (160,)
    assert namespace["ranker"].score(X_test, y_test, group=test_sizes)["ndcg@5"] > 0.8
    assert namespace["embeddings"].shape == (120, 32)
