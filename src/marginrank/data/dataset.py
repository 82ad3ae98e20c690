"""A train/test (and optional validation) bundle in one index space."""

from __future__ import annotations

from dataclasses import dataclass

from marginrank.data.interactions import Interactions
from marginrank.errors import MarginRankError


@dataclass(frozen=True, eq=False)
class Dataset:
    name: str
    train: Interactions
    test: Interactions
    valid: Interactions | None = None

    def __post_init__(self) -> None:
        for split in (self.test, self.valid):
            if split is not None and split.shape != self.train.shape:
                raise MarginRankError(f"{self.name}: train and test live in different index spaces")

    @property
    def n_users(self) -> int:
        return self.train.n_users

    @property
    def n_items(self) -> int:
        return self.train.n_items

    def summary(self) -> dict[str, float | int | str]:
        n_pairs = len(self.train) + len(self.test)
        return {
            "name": self.name,
            "users": self.n_users,
            "items": self.n_items,
            "train": len(self.train),
            "test": len(self.test),
            "valid": 0 if self.valid is None else len(self.valid),
            "density": n_pairs / (self.n_users * self.n_items),
            "train_test_overlap": self.train.overlap(self.test),
        }
