"""Reading a partially observed matrix from CSV, and writing results atomically."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path
from typing import Any

import numpy as np

from marginrank.atomic import atomic_open
from marginrank.data.text import finite_number
from marginrank.errors import MarginRankError

Array = np.ndarray
LONG_HEADER = ("row", "col", "value")


def read_matrix(path: str | os.PathLike[str]) -> tuple[Array, list[str], list[str]]:
    """Read a matrix with NaN for missing entries; returns ``(X, row_labels, col_labels)``.

    Two layouts, told apart by the header:

    * long format, header ``row,col,value``: one observed entry per line; labels are kept in order of
      first appearance, and pairs never listed are missing (a repeated pair is an error);
    * dense: a header of column labels after a first (row-label) cell, then one row per line, with an
      empty cell for a missing entry.
    """
    path = Path(path)
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:  # a spreadsheet's byte-order mark is not a label
            lines = list(csv.reader(handle))
    except OSError as error:
        raise MarginRankError(f"cannot read: {error.strerror}", path=str(path)) from None
    except (UnicodeDecodeError, csv.Error) as error:
        raise MarginRankError(f"not a CSV text file: {error}", path=str(path)) from None
    if not lines:
        raise MarginRankError("empty file", path=str(path))
    header = tuple(cell.strip().lower() for cell in lines[0])
    if header == LONG_HEADER:
        return _read_long(lines, path)
    return _read_dense(lines, path)


def _read_long(lines: list[list[str]], path: Path) -> tuple[Array, list[str], list[str]]:
    rows: dict[str, int] = {}
    cols: dict[str, int] = {}
    entries: dict[tuple[int, int], float] = {}
    for line, cells in enumerate(lines[1:], start=2):
        if not cells:
            continue
        if len(cells) != 3:
            raise MarginRankError(f"expected 3 cells (row,col,value), got {len(cells)}", path=str(path), line=line)
        row_label, col_label, text = (cell.strip() for cell in cells)
        key = (rows.setdefault(row_label, len(rows)), cols.setdefault(col_label, len(cols)))
        if key in entries:
            raise MarginRankError(f"repeated entry ({row_label}, {col_label})", path=str(path), line=line)
        entries[key] = finite_number(text, "value", path, line)
    if not entries:
        raise MarginRankError("no entries after the header", path=str(path))
    X = np.full((len(rows), len(cols)), np.nan)
    index = np.array(list(entries.keys()))
    X[index[:, 0], index[:, 1]] = list(entries.values())
    return X, list(rows), list(cols)


def _read_dense(lines: list[list[str]], path: Path) -> tuple[Array, list[str], list[str]]:
    col_labels = [cell.strip() for cell in lines[0][1:]]
    if not col_labels:
        raise MarginRankError("a dense CSV needs a header: a row-label cell, then column labels", path=str(path), line=1)
    repeated = next((label for position, label in enumerate(col_labels) if label in col_labels[:position]), None)
    if repeated is not None:
        raise MarginRankError(f"column label {repeated!r} appears twice in the header", path=str(path), line=1)
    row_labels: list[str] = []
    first_line: dict[str, int] = {}
    values: list[list[float]] = []
    for line, cells in enumerate(lines[1:], start=2):
        if not cells:
            continue
        if len(cells) != len(col_labels) + 1:
            raise MarginRankError(
                f"expected {len(col_labels) + 1} cells like the header, got {len(cells)}", path=str(path), line=line
            )
        label = cells[0].strip()
        if label in first_line:
            raise MarginRankError(
                f"row label {label!r} again (first on line {first_line[label]}): a dense CSV has one line per row; "
                f"for one entry per line, use the header {','.join(LONG_HEADER)}", path=str(path), line=line,
            )
        first_line[label] = line
        row_labels.append(label)
        values.append([np.nan if not cell.strip() else finite_number(cell, "value", path, line) for cell in cells[1:]])
    if not values:
        raise MarginRankError("no rows after the header", path=str(path))
    X = np.array(values)
    observed = ~np.isnan(X)
    empty_rows, empty_cols = np.flatnonzero(~observed.any(axis=1)), np.flatnonzero(~observed.any(axis=0))
    if empty_rows.size:
        label = row_labels[empty_rows[0]]
        raise MarginRankError(f"row {label!r} has no observed value: nothing to fit it to", path=str(path), line=first_line[label])
    if empty_cols.size:
        label = col_labels[empty_cols[0]]
        raise MarginRankError(f"column {label!r} has no observed value: nothing to fit it to", path=str(path), line=1)
    return X, row_labels, col_labels


def _atomic_write(path: Path, write: Any, binary: bool = False) -> None:
    """``write(stream)`` into ``path`` atomically (see :func:`marginrank.atomic.atomic_open`)."""
    with atomic_open(path, "wb" if binary else "w", newline=None if binary else "") as stream:
        write(stream)


def write_matrix(path: Path, matrix: Array, row_labels: list[str], col_labels: list[str]) -> None:
    """Dense CSV: header ``label,<col labels>``, then one labelled row per line (full precision)."""

    def write(stream: Any) -> None:
        writer = csv.writer(stream)
        writer.writerow(["label", *col_labels])
        for label, row in zip(row_labels, matrix):
            writer.writerow([label, *(repr(float(value)) for value in row)])

    _atomic_write(path, write)


def write_json(path: Path, payload: Any) -> None:
    _atomic_write(path, lambda stream: json.dump(payload, stream, indent=2))


def write_figure(path: Path, figure: Any) -> None:
    _atomic_write(path, lambda stream: figure.savefig(stream, format=path.suffix.lstrip(".")), binary=True)


def write_text(path: Path, text: str) -> None:
    _atomic_write(path, lambda stream: stream.write(text))
