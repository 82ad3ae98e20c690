"""Readers of grouped candidate lists: SVMlight / LETOR text, and tables with a group column.

- SVMlight / LETOR: ``label [qid:Q] index:value ... [# comment]`` per row; the groups come from a
  query file of group sizes (one per line, LightGBM's ``<data>.query``, used when it exists beside
  the data) or from ``qid``, whose rows must be consecutive. Feature ``index`` is column ``index``.
- Tables: CSV / TSV (a header line, then one row per candidate), Parquet and pandas DataFrames, with
  a group column, a label column and feature columns (all other columns by default).

Every error names the file and line (for a DataFrame, the row) and what is wrong.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from marginrank.data.groups import RankingGroups
from marginrank.data.text import csv_rows, finite_number, read_text
from marginrank.errors import MarginRankError

PathLike = str | os.PathLike
TABLE_SUFFIXES = (".csv", ".tsv", ".parquet")


def read_ranking(
    source: PathLike,
    *,
    query: PathLike | None = None,
    group: str = "qid",
    label: str = "label",
    features: Sequence[str] | None = None,
    n_features: int | None = None,
) -> RankingGroups:
    """Read ``source`` by its suffix: a table (``.csv``, ``.tsv``, ``.parquet``) by :func:`read_table`,
    anything else as SVMlight / LETOR by :func:`read_svmlight`."""
    if Path(source).suffix.lower() in TABLE_SUFFIXES:
        return read_table(source, group=group, label=label, features=features)
    return read_svmlight(source, query=query, n_features=n_features)


def read_svmlight(source: PathLike, *, query: PathLike | None = None, n_features: int | None = None) -> RankingGroups:
    """SVMlight / LETOR rows; groups from ``query`` (or ``<source>.query`` where it exists), else from ``qid``.

    ``n_features``: the width to read into (e.g. a trained model's); by default the largest feature
    index + 1. An index at or beyond a given width is an error.
    """
    name = str(source)
    labels: list[float] = []
    qids: list[str | None] = []
    line_numbers: list[int] = []
    columns: list[np.ndarray] = []
    values: list[np.ndarray] = []
    for number, line in enumerate(read_text(source).splitlines(), start=1):
        tokens = line.split("#", 1)[0].split()
        if not tokens:
            continue
        labels.append(finite_number(tokens[0], "label", name, number))
        qid = tokens[1][4:] if len(tokens) > 1 and tokens[1].startswith("qid:") else None
        qids.append(qid)
        pairs = [token.partition(":") for token in tokens[1 + (qid is not None):]]
        for index, colon, value in pairs:
            if not colon or not index.isdigit():
                raise MarginRankError(f"expected index:value, got {index + colon + value!r}", path=name, line=number)
        columns.append(np.array([int(index) for index, _, _ in pairs], dtype=np.int64))
        values.append(np.array([finite_number(value, f"feature {index}", name, number) for index, _, value in pairs], dtype=np.float32))
        line_numbers.append(number)
    if not labels:
        raise MarginRankError("no rows", path=name)
    width = max((int(c.max()) + 1 for c in columns if len(c)), default=1)
    if n_features is not None:
        too_wide = next((i for i, c in enumerate(columns) if len(c) and c.max() >= n_features), None)
        if too_wide is not None:
            raise MarginRankError(f"feature {int(columns[too_wide].max())} is beyond the {n_features} features the model "
                                  "was trained on", path=name, line=line_numbers[too_wide])
        width = n_features
    matrix = np.zeros((len(labels), width), dtype=np.float32)
    rows = np.repeat(np.arange(len(labels)), [len(c) for c in columns])
    matrix[rows, np.concatenate(columns)] = np.concatenate(values)
    label_array = np.asarray(labels, dtype=np.float32)
    _check_labels(label_array, name, np.asarray(line_numbers))
    query_path = Path(query) if query is not None else Path(name + ".query")
    if query is not None or query_path.exists():
        sizes = _read_sizes(query_path, len(labels), name)
    else:
        sizes = _sizes_from_qids(qids, line_numbers, name)
    return RankingGroups.from_arrays(matrix, label_array, sizes, source=name)


def _check_labels(labels: np.ndarray, name: str, line_numbers: np.ndarray) -> None:
    bad = np.flatnonzero(~(labels >= 0))
    if len(bad):
        raise MarginRankError(f"relevance label {labels[bad[0]]} is not a number >= 0", path=name, line=int(line_numbers[bad[0]]))


def _read_sizes(path: Path, rows: int, data_name: str) -> np.ndarray:
    """Group sizes, one positive integer per line, that must add up to the data's ``rows``."""
    sizes: list[int] = []
    total = 0
    for number, line in enumerate(read_text(path).splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        if not text.isdigit() or int(text) == 0:
            raise MarginRankError(f"group size {text!r} is not a positive integer", path=str(path), line=number)
        total += int(text)
        if total > rows:
            raise MarginRankError(f"group sizes pass the {rows} rows of {data_name} here (at {total})", path=str(path), line=number)
        sizes.append(int(text))
    if total < rows:
        raise MarginRankError(f"group sizes add up to {total} rows; {data_name} has {rows}", path=str(path))
    return np.asarray(sizes, dtype=np.int64)


def _sizes_from_qids(qids: list[str | None], line_numbers: list[int], name: str) -> np.ndarray:
    """Sizes of the runs of equal ``qid``; a row without one, or a query whose rows are not consecutive, is an error."""
    missing = next((i for i, qid in enumerate(qids) if qid is None), None)
    if missing is not None:
        raise MarginRankError(f"no qid: give each row its query (label qid:Q index:value ...) or a query file of "
                              f"group sizes ({name}.query)", path=name, line=line_numbers[missing])
    runs: list[int] = []
    seen: set[str] = set()
    for i, qid in enumerate(qids):
        if i and qid == qids[i - 1]:
            runs[-1] += 1
            continue
        if qid in seen:
            raise MarginRankError(f"qid {qid} appears again after other queries: a query's rows must be consecutive",
                                  path=name, line=line_numbers[i])
        seen.add(qid)
        runs.append(1)
    return np.asarray(runs, dtype=np.int64)


def read_table(
    source: PathLike | object, *, group: str = "qid", label: str = "label", features: Sequence[str] | None = None
) -> RankingGroups:
    """A table with one row per candidate: CSV / TSV (a path; header line first), Parquet (a path;
    needs pandas and pyarrow) or a pandas DataFrame. ``features`` defaults to every column other than
    ``group`` and ``label``. A group's rows need not be consecutive: groups keep the order in which
    they first appear, rows their order within the group."""
    if hasattr(source, "columns") and hasattr(source, "to_numpy"):
        return _from_columns({str(c): source[c].to_numpy() for c in source.columns}, group, label, features, "DataFrame",
                             _by_row("DataFrame"))
    name = str(source)
    suffix = Path(name).suffix.lower()
    if suffix == ".parquet":
        try:
            import pandas
        except ImportError:
            raise MarginRankError("reading Parquet needs pandas and pyarrow: pip install 'marginrank[pandas]' pyarrow",
                                  path=name) from None
        try:
            frame = pandas.read_parquet(name)
        except (ImportError, ValueError, OSError) as error:
            raise MarginRankError(f"cannot read as Parquet: {error}", path=name) from None
        return _from_columns({str(c): frame[c].to_numpy() for c in frame.columns}, group, label, features, name, _by_row(name))
    header, lines, rows = csv_rows(source, delimiter="\t" if suffix == ".tsv" else ",")
    table = np.array(rows, dtype=object).reshape(len(rows), len(header))
    return _from_columns({column: table[:, i] for i, column in enumerate(header)}, group, label, features, name,
                         lambda row: {"path": name, "line": lines[row]})


def _by_row(name: str) -> Callable[[int], dict]:
    """Where row ``i`` of a frame is, for messages."""
    return lambda row: {"path": f"{name}, row {row}"}


def _from_columns(
    columns: dict[str, np.ndarray], group: str, label: str, features: Sequence[str] | None, name: str,
    where: Callable[[int], dict],
) -> RankingGroups:
    """Check the named columns and order the rows by group; ``where(i)`` locates row ``i`` in messages."""
    features = [c for c in columns if c not in (group, label)] if features is None else list(features)
    missing = [c for c in (group, label, *features) if c not in columns]
    if missing:
        raise MarginRankError(f"no column(s) {', '.join(map(repr, missing))}; it has {', '.join(map(repr, columns))}", path=name)
    if not features:
        raise MarginRankError("no feature columns", path=name)
    if len(columns[group]) == 0:
        raise MarginRankError("no rows", path=name)

    def numeric(column: str, what: str) -> np.ndarray:
        raw = columns[column]
        try:
            return raw.astype(np.float64)
        except (TypeError, ValueError):
            bad = next(i for i, value in enumerate(raw) if not _is_number(value))
            raise MarginRankError(f"{what} {column!r} holds {str(raw[bad])!r}, not a number", **where(bad)) from None

    labels = numeric(label, "label column")
    bad = np.flatnonzero(~(labels >= 0))
    if len(bad):
        raise MarginRankError(f"label column {label!r} holds {str(columns[label][bad[0]])!r}, not a relevance >= 0",
                              **where(int(bad[0])))
    matrix = np.stack([numeric(c, "feature column") for c in features], axis=1)
    not_finite = np.argwhere(~np.isfinite(matrix))
    if len(not_finite):
        row, column = not_finite[0]
        raise MarginRankError(f"feature column {features[column]!r} holds {matrix[row, column]}, not a finite number", **where(int(row)))
    keys = columns[group]
    empty = next((i for i, key in enumerate(keys) if _is_blank(key)), None)
    if empty is not None:
        raise MarginRankError(f"group column {group!r} is empty", **where(empty))
    _, first_seen, codes = np.unique(keys.astype(str), return_index=True, return_inverse=True)
    rank_of_code = np.argsort(np.argsort(first_seen))
    order = np.argsort(rank_of_code[codes], kind="stable")
    sizes = np.bincount(rank_of_code[codes])
    return RankingGroups.from_arrays(matrix[order], labels[order], sizes, source=name)


def _is_blank(value: object) -> bool:
    return value is None or (isinstance(value, float) and np.isnan(value)) or str(value).strip() == ""


def _is_number(value: object) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True
