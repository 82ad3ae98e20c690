"""Labelled feature vectors from a CSV: one label column, the other columns numeric features."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marginrank.data.text import csv_rows, finite_number
from marginrank.errors import MarginRankError

MISSING_LABELS = frozenset({"", "nan", "na", "null", "none"})


@dataclass(frozen=True)
class LabelledFeatures:
    """``features [n, F]`` float32, ``labels [n]`` int64 codes of ``classes`` (the label texts, sorted), the feature names."""

    features: np.ndarray
    labels: np.ndarray
    classes: list[str]
    feature_names: list[str]


def read_labelled_csv(path: str | Path, label: str) -> LabelledFeatures:
    """Read a CSV with a header row: column ``label`` holds each row's class (any text; empty or NaN
    is an error), every other column a finite number. Errors name the file and line."""
    header, lines, cells = csv_rows(path)
    if label not in header:
        raise MarginRankError(f"no label column {label!r} in the header (columns: {', '.join(header) or 'none'})", path=str(path), line=1)
    if len(header) < 2:
        raise MarginRankError("no feature column besides the label", path=str(path), line=1)
    position = header.index(label)
    names = [name for index, name in enumerate(header) if index != position]
    texts, rows = [], []
    for line, row in zip(lines, cells):
        text = row[position].strip()
        if text.lower() in MISSING_LABELS:
            raise MarginRankError(f"missing label ({text!r}) in column {label!r}", path=str(path), line=line)
        texts.append(text)
        rows.append([finite_number(cell, f"feature {name!r}", path, line) for name, cell in zip(names, row[:position] + row[position + 1:])])
    if not rows:
        raise MarginRankError("no data rows", path=str(path))
    classes, codes = np.unique(np.array(texts), return_inverse=True)
    return LabelledFeatures(np.array(rows, dtype=np.float32), codes.astype(np.int64), classes.tolist(), names)
