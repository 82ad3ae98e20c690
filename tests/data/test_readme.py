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
