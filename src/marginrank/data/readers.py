"""Readers: the LightGCN/NGCF split format, delimited files, pandas DataFrames.

Every reader validates as it goes and raises :class:`MarginRankError` naming the file, the line and
what is wrong; nothing from deep inside numpy reaches the user.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from marginrank.data.interactions import Interactions
from marginrank.errors import MarginRankError

INT64 = range(-(2**63), 2**63)  # the integers an int64 array holds

PathLike = str | os.PathLike


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line; a missing, unreadable or empty file is an error."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MarginRankError("file not found", path=str(path)) from None
    except IsADirectoryError:
        raise MarginRankError("is a directory, expected a file", path=str(path)) from None
    except UnicodeDecodeError as error:
        raise MarginRankError(f"not UTF-8 text ({error.reason})", path=str(path)) from None
    if not text.strip():
        raise MarginRankError("file is empty", path=str(path))
    return enumerate(text.splitlines(), start=1)


def _parse_lightgcn(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Pairs of a ``user item item ...`` file; a line with a user and no items is allowed."""
    users: list[int] = []
    items: list[np.ndarray] = []
    line_numbers: list[int] = []
    for number, line in _lines(path):
        fields = line.split()
        if not fields:
            continue
        try:
            values = np.array([int(field) for field in fields], dtype=np.int64)
        except ValueError:
            bad = next(f for f in fields if not re.fullmatch(r"[+-]?\d+", f))
            raise MarginRankError(f"id {bad!r} is not an integer", path=str(path), line=number) from None
        except OverflowError:
            bad = next(f for f in fields if int(f) not in INT64)
            raise MarginRankError(f"id {bad} is too large (ids are row numbers, 0 .. n - 1)", path=str(path), line=number) from None
        if values.min() < 0:
            raise MarginRankError(f"negative id {values.min()}", path=str(path), line=number)
        users.append(values[0])
        items.append(values[1:])
        line_numbers.append(number)
    counts = np.fromiter((len(row) for row in items), dtype=np.int64, count=len(items))
    pair_users, pair_items = np.repeat(np.asarray(users, dtype=np.int64), counts), np.concatenate(items)
    pair_lines = np.repeat(np.asarray(line_numbers, dtype=np.int64), counts)
    for kind, ids, lines in (("user", np.asarray(users, dtype=np.int64), line_numbers), ("item", pair_items, pair_lines)):
        _check_index_space(ids, lines, kind, path)
    return pair_users, pair_items


def _check_index_space(ids: np.ndarray, lines: Sequence[int], kind: str, path: Path) -> None:
    """Ids are row numbers, so the table has max id + 1 rows: an id far beyond the number of distinct
    ids (a typo such as 4000000000) would allocate gigabytes for empty rows."""
    if not ids.size:
        return
    distinct = len(np.unique(ids))
    largest = int(ids.max())
    if largest >= 100 * distinct + 1_000_000:
        raise MarginRankError(
            f"{kind} id {largest} is far beyond the {distinct:,} distinct {kind} ids in this file: ids are row "
            f"numbers 0 .. n - 1, so it would make a table of {largest + 1:,} rows",
            path=str(path), line=int(lines[int(ids.argmax())]),
        )


def read_lightgcn(path: PathLike, *, n_users: int | None = None, n_items: int | None = None) -> Interactions:
    """One file of the LightGCN/NGCF format (each line ``user item item ...``, 0-based ids).

    The index space is ``0..max id`` unless ``n_users`` / ``n_items`` give a larger one.
    """
    path = Path(path)
    users, items = _parse_lightgcn(path)
    n_users = max(n_users or 0, int(users.max(initial=-1)) + 1)
    n_items = max(n_items or 0, int(items.max(initial=-1)) + 1)
    return Interactions.from_pairs(users, items, user_ids=n_users, item_ids=n_items, source=str(path))


def read_lightgcn_split(directory: PathLike) -> tuple[Interactions, Interactions]:
    """``train.txt`` and ``test.txt`` of a LightGCN split, in one index space.

    A test user who has no training item is an error naming the line.
    """
    directory = Path(directory)
    train_path, test_path = directory / "train.txt", directory / "test.txt"
    train_users, train_items = _parse_lightgcn(train_path)
    test_users, test_items = _parse_lightgcn(test_path)
    n_users = int(max(train_users.max(initial=-1), test_users.max(initial=-1))) + 1
    n_items = int(max(train_items.max(initial=-1), test_items.max(initial=-1))) + 1
    train = Interactions.from_pairs(
        train_users, train_items, user_ids=n_users, item_ids=n_items, source=str(train_path)
    )
    test = Interactions.from_pairs(test_users, test_items, user_ids=n_users, item_ids=n_items, source=str(test_path))
    _check_test_users(train, test, test_path, user_line=lambda user: _line_of_user(test_path, user))
    return train, test


def _line_of_user(path: Path, user: int) -> int | None:
    for number, line in _lines(path):
        fields = line.split()
        if fields and int(fields[0]) == user:
            return number
    return None


def _check_test_users(train: Interactions, test: Interactions, test_path: Path, user_line) -> None:
    unknown = np.setdiff1d(np.unique(test.users), np.flatnonzero(train.user_counts()))
    if len(unknown):
        raw = test.user_ids[unknown[0]].item()
        raise MarginRankError(
            f"test user {raw!r} has no training interactions ({len(unknown)} such users)",
            path=str(test_path),
            line=user_line(unknown[0]),
        )


_HEADER_WORDS = {"user", "user_id", "userid", "uid", "item", "item_id", "itemid", "iid", "movie_id", "rating", "timestamp"}


def _split_fields(line: str, delimiter: str | None) -> list[str]:
    return [f.strip() for f in line.split(delimiter)] if delimiter else line.split()


def _sniff_delimiter(first_line: str) -> str | None:
    for candidate in ("\t", ",", ";"):
        if candidate in first_line:
            return candidate
    return None  # any whitespace


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _names_above_numbers(first: list[str], second: list[str]) -> bool:
    """Whether the first line reads as column names: no number in it, some number in the next line
    (so ``0,1,abc`` is a row with a bad rating, and string ids without a header stay rows)."""
    return not any(_is_float(f) for f in first) and any(_is_float(f) for f in second)


def read_delimited(
    path: PathLike,
    *,
    delimiter: str | None = "auto",
    header: bool | None = None,
    like: Interactions | None = None,
) -> Interactions:
    """A delimited file of ``user,item[,rating[,timestamp]]`` rows (CSV, TSV or whitespace).

    Raw ids may be strings (MovieLens ``u.data`` works as is). ``delimiter="auto"`` picks tab,
    comma or semicolon from the first line, else whitespace; ``header=None`` detects a header line
    (known column names such as ``user_id``, or a first line without numbers above one with some). With ``like`` (a training
    set), ids are mapped into its index space: an unknown user is an error naming the line, an
    unknown item (which no model trained on ``like`` can rank) is dropped with a warning.
    """
    path = Path(path)
    numbered = [(n, line) for n, line in _lines(path) if line.strip() and not line.lstrip().startswith("#")]
    if not numbered:
        raise MarginRankError("no rows: every line is blank or a # comment", path=str(path))
    first = numbered[0][1]
    if delimiter == "auto":
        delimiter = _sniff_delimiter(first)
    first_fields = _split_fields(first, delimiter)
    if header is None:
        header = any(f.lower() in _HEADER_WORDS for f in first_fields) or _names_above_numbers(
            first_fields, _split_fields(numbered[1][1], delimiter) if len(numbered) > 1 else []
        )
    if header:
        numbered = numbered[1:]
        if not numbered:
            raise MarginRankError("file has a header and no rows", path=str(path))
    rows = [(n, _split_fields(line, delimiter)) for n, line in numbered]
    width = len(rows[0][1])
    for number, fields in rows:
        if len(fields) < 2:
            raise MarginRankError(
                f"expected user{delimiter or ' '}item[,rating[,timestamp]], got {len(fields)} field(s)",
                path=str(path),
                line=number,
            )
        if not fields[0] or not fields[1]:
            raise MarginRankError(f"empty {'user' if not fields[0] else 'item'} field", path=str(path), line=number)
        if len(fields) != width:
            raise MarginRankError(f"expected {width} fields like the first row, got {len(fields)}", path=str(path), line=number)
    raw_users = [fields[0] for _, fields in rows]
    raw_items = [fields[1] for _, fields in rows]
    columns = {}
    for position, name in ((2, "rating"), (3, "timestamp")):
        if width > position:
            try:
                columns[name] = np.array([float(fields[position]) for _, fields in rows])
            except ValueError:
                number, fields = next((n, f) for n, f in rows if not _is_float(f[position]))
                raise MarginRankError(f"{name} {fields[position]!r} is not a number", path=str(path), line=number) from None
            infinite = np.flatnonzero(~np.isfinite(columns[name]))
            if infinite.size:
                number, fields = rows[infinite[0]]
                raise MarginRankError(f"{name} {fields[position]!r} is not a finite number", path=str(path), line=number)
    if like is None:
        user_ids, users = _encode(raw_users)
        item_ids, items = _encode(raw_items)
        return Interactions.from_pairs(
            users, items, user_ids=user_ids, item_ids=item_ids,
            ratings=columns.get("rating"), timestamps=columns.get("timestamp"), source=str(path),
        )
    return _map_into(like, raw_users, raw_items, columns, path, [n for n, _ in rows])


def _encode(raw: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Raw ids -> (sorted unique ids, index per row); all-integer ids sort numerically."""
    if all(re.fullmatch(r"[+-]?\d+", value) for value in raw):
        numbers = [int(value) for value in raw]
        fits = all(number in INT64 for number in numbers)
        values = np.array(numbers, dtype=np.int64 if fits else object)  # Python ints still sort numerically
    else:
        values = np.array(raw, dtype=object)
    unique, inverse = np.unique(values, return_inverse=True)
    return unique, inverse.astype(np.int64)


def _map_into(
    like: Interactions, raw_users: list, raw_items: list, columns: dict, path: Path, line_numbers: list[int]
) -> Interactions:
    index_of = {"user": like.user_id_index, "item": like.item_id_index}
    int_keys = {kind: bool(index) and isinstance(next(iter(index)), int) for kind, index in index_of.items()}

    def lookup(kind: str, value: str) -> int:
        try:
            return index_of[kind].get(int(value) if int_keys[kind] else value, -1)
        except ValueError:
            return -1

    users = np.array([lookup("user", value) for value in raw_users], dtype=np.int64)
    items = np.array([lookup("item", value) for value in raw_items], dtype=np.int64)
    if (users < 0).any():
        first = int(np.flatnonzero(users < 0)[0])
        raise MarginRankError(f"user {raw_users[first]!r} is unknown to the training data", path=str(path), line=line_numbers[first])
    keep = items >= 0
    if not keep.all():
        warnings.warn(f"{path}: {int((~keep).sum())} rows with items unknown to the training data dropped", stacklevel=3)
    return Interactions.from_pairs(
        users[keep], items[keep], user_ids=like.user_ids, item_ids=like.item_ids,
        ratings=None if "rating" not in columns else columns["rating"][keep],
        timestamps=None if "timestamp" not in columns else columns["timestamp"][keep],
        source=str(path),
    )


def _factorize(column) -> tuple[np.ndarray, np.ndarray]:
    """(index per row, raw ids) of a pandas Series: ids sorted where they compare, else first-seen order."""
    try:
        codes, uniques = column.factorize(sort=True)
    except TypeError:  # e.g. strings mixed with numbers
        codes, uniques = column.factorize(sort=False)
    return codes, np.asarray(uniques)


def from_dataframe(
    frame,
    *,
    user_col: str = "user",
    item_col: str = "item",
    rating_col: str | None = None,
    timestamp_col: str | None = None,
) -> Interactions:
    """From a pandas DataFrame with one row per interaction; raw ids may be any hashable values
    (sorted as pandas sorts them, numbers before strings; where even that fails, in order of appearance)."""
    if not hasattr(frame, "columns") or not hasattr(frame, "to_numpy"):
        raise MarginRankError(f"from_dataframe takes a pandas DataFrame, got {type(frame).__name__}")
    missing = [c for c in (user_col, item_col, rating_col, timestamp_col) if c is not None and c not in frame.columns]
    if missing:
        raise MarginRankError(f"DataFrame has no column(s) {missing}; it has {list(frame.columns)}")
    if frame[[user_col, item_col]].isna().to_numpy().any():
        raise MarginRankError("DataFrame has missing user or item ids")
    users, user_ids = _factorize(frame[user_col])
    items, item_ids = _factorize(frame[item_col])
    extras = {}
    for name, column in (("ratings", rating_col), ("timestamps", timestamp_col)):
        if column is not None:
            try:
                extras[name] = frame[column].to_numpy(dtype=np.float64)
            except (TypeError, ValueError):
                raise MarginRankError(f"column {column!r} is not numeric") from None
    return Interactions.from_pairs(users, items, user_ids=user_ids, item_ids=item_ids, **extras, source="DataFrame")
