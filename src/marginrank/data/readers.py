"""Readers: the LightGCN/NGCF split format, delimited files, pandas DataFrames.

Every reader validates as it goes and raises :class:`MarginRankError` naming the file, the line and
what is wrong; nothing from deep inside numpy reaches the user.
"""

from __future__ import annotations

import csv
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from operator import itemgetter
from pathlib import Path

import numpy as np

from marginrank.checks import require_number
from marginrank.data.interactions import Interactions, find_ids
from marginrank.data.text import Source, read_text, source_name
from marginrank.errors import MarginRankError, SettingWarning

INT64 = range(-(2**63), 2**63)  # the integers an int64 array holds

PathLike = str | os.PathLike


def _lines(source: Source) -> Iterator[tuple[int, str]]:
    """(line number, text) of every line; a missing, unreadable or empty source is an error."""
    return enumerate(read_text(source).splitlines(), start=1)


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
COLUMNS = ("user", "item", "rating", "timestamp")
_DELIMITER_NAMES = {None: "whitespace", "\t": "tab", ",": "comma", ";": "semicolon"}


@dataclass(frozen=True)
class Layout:
    """How :func:`read_delimited` read a file: its delimiter (None: any whitespace), the header line it
    skipped (None: the first line was a row) and the number of fields per row."""

    delimiter: str | None
    header: str | None
    width: int

    def __str__(self) -> str:
        separated = _DELIMITER_NAMES.get(self.delimiter, repr(self.delimiter)) + "-separated"
        header = "no header" if self.header is None else f"header {self.header!r} skipped"
        columns = ", ".join(COLUMNS[: self.width])
        ignored = f", {self.width - len(COLUMNS)} more ignored" if self.width > len(COLUMNS) else ""
        return f"{separated}, {header}, columns {columns}{ignored}"


def _sniff_delimiter(first_line: str) -> str | None:
    for candidate in ("\t", ",", ";"):
        if candidate in first_line:
            return candidate
    return None  # any whitespace


def _split_rows(numbered: list[tuple[int, str]], delimiter: str | None, name: str) -> list[list[str]]:
    """The fields of each line, by the quoting rules of CSV (``"a, b"`` is one field, ``""`` a quote)."""
    lines = [line for _, line in numbered]
    if delimiter is None:
        return [line.split() for line in lines]
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True, strict=True)
    try:
        rows = list(reader)
    except csv.Error:
        rows = []
    if len(rows) != len(lines):
        _raise_quoting_error(lines, delimiter, [n for n, _ in numbered], name)
    return rows


def _raise_quoting_error(lines: list[str], delimiter: str, line_numbers: list[int], name: str) -> None:
    """Name the line where CSV parsing went wrong: a bad quote, or one left open (which swallows the
    lines after it)."""
    reader = csv.reader(lines, delimiter=delimiter, skipinitialspace=True, strict=True)
    start = 0
    try:
        for _ in reader:
            if reader.line_num != start + 1:
                break
            start = reader.line_num
    except csv.Error as error:
        if reader.line_num == start + 1 and "end of data" not in str(error):
            raise MarginRankError(f"bad quoting: {error}", path=name, line=line_numbers[start]) from None
    raise MarginRankError("unclosed quote (a field that opens with \" must end with \")", path=name, line=line_numbers[start])


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
    source: Source,
    *,
    delimiter: str | None = "auto",
    header: bool | None = None,
    min_rating: float | None = None,
    like: Interactions | None = None,
    report: Callable[[Layout], None] | None = None,
) -> Interactions:
    """A delimited file of ``user,item[,rating[,timestamp]]`` rows (CSV, TSV or whitespace), from a
    path or a binary stream (``sys.stdin.buffer``); gzip-compressed or not, with or without a byte
    order mark.

    Fields follow CSV quoting (``"0","1",5``). Ids are kept as written: a column of plain integers
    (``str(int(id)) == id`` for every id) becomes ints, any other column stays text, so ``007`` and
    ``7`` are two ids (MovieLens ``u.data`` works as is). ``delimiter="auto"`` picks tab, comma or
    semicolon from the first line, else whitespace; ``header=None`` detects a header line (known
    column names such as ``user_id``, or a first line without numbers above one with some); names
    above text ids cannot be told from a row, so say ``header=True``. ``report`` is called with the
    :class:`Layout` read. ``min_rating`` keeps the rows rated at least that; without it, negative
    ratings count as interactions, with a warning. With ``like`` (a training set), ids are mapped
    into its index space: an unknown user is an error naming the line, an unknown item (which no
    model trained on ``like`` can rank) is dropped with a warning.
    """
    name = source_name(source)
    numbered = [
        (number, line) for number, line in _lines(source)
        if line.strip() and not line.lstrip().startswith("#")
    ]
    if not numbered:
        raise MarginRankError("no rows: every line is blank or a # comment", path=name)
    if delimiter == "auto":
        delimiter = _sniff_delimiter(numbered[0][1])
    rows = _split_rows(numbered, delimiter, name)
    if header is None:
        header = any(f.strip().lower() in _HEADER_WORDS for f in rows[0]) or _names_above_numbers(
            rows[0], rows[1] if len(rows) > 1 else []
        )
    header_line = numbered[0][1] if header else None
    if header:
        numbered, rows = numbered[1:], rows[1:]
        if not rows:
            raise MarginRankError("file has a header and no rows", path=name)
    line_numbers = np.array([number for number, _ in numbered], dtype=np.int64)
    fields = _fields(rows, line_numbers, delimiter, name)
    if report is not None:
        report(Layout(delimiter, header_line, len(fields)))
    numbers = {
        kind: _numbers(fields[position], kind, line_numbers, name)
        for position, kind in enumerate(COLUMNS) if 2 <= position < len(fields)
    }
    keep = _rated(numbers.get("rating"), min_rating, len(fields), name)
    if keep is not None:
        fields, line_numbers = [column[keep] for column in fields], line_numbers[keep]
        numbers = {kind: values[keep] for kind, values in numbers.items()}
    if like is not None:
        return _map_into(like, fields[0], fields[1], numbers, name, line_numbers)
    user_ids, users = _encode(fields[0])
    item_ids, items = _encode(fields[1])
    return Interactions.from_pairs(
        users, items, user_ids=user_ids, item_ids=item_ids,
        ratings=numbers.get("rating"), timestamps=numbers.get("timestamp"), source=name,
    )


def _fields(rows: list[list[str]], line_numbers: np.ndarray, delimiter: str | None, name: str) -> list[np.ndarray]:
    """The columns of the rows as text arrays, each field stripped; a short, uneven or empty row is an
    error naming its line."""
    widths = np.fromiter(map(len, rows), dtype=np.int64, count=len(rows))
    bad = np.flatnonzero((widths < 2) | (widths != widths[0]))
    if bad.size:
        row, width = bad[0], int(widths[bad[0]])
        problem = (
            f"expected user{delimiter or ' '}item[,rating[,timestamp]], got {width} field(s)" if width < 2
            else f"expected {widths[0]} fields like the first row, got {width}"
        )
        raise MarginRankError(problem, path=name, line=int(line_numbers[row]))
    fields = [np.char.strip(np.array(list(map(itemgetter(k), rows)), dtype=str)) for k in range(widths[0])]
    empty = (fields[0] == "") | (fields[1] == "")
    if empty.any():
        row = int(np.flatnonzero(empty)[0])
        kind = "user" if fields[0][row] == "" else "item"
        raise MarginRankError(f"empty {kind} field", path=name, line=int(line_numbers[row]))
    return fields


def _numbers(column: np.ndarray, kind: str, line_numbers: np.ndarray, name: str) -> np.ndarray:
    """A rating or timestamp column as finite floats; a bad value is an error naming its line."""
    try:
        values = column.astype(np.float64)
    except ValueError:
        bad = next(row for row, text in enumerate(column.tolist()) if not _is_float(text))
        raise MarginRankError(f"{kind} {str(column[bad])!r} is not a number", path=name, line=int(line_numbers[bad])) from None
    infinite = np.flatnonzero(~np.isfinite(values))
    if infinite.size:
        row = infinite[0]
        raise MarginRankError(f"{kind} {str(column[row])!r} is not a finite number", path=name, line=int(line_numbers[row]))
    return values


def _rated(ratings: np.ndarray | None, min_rating: float | None, width: int, name: str) -> np.ndarray | None:
    """The rows that count as interactions (None: all). Negative ratings without ``min_rating`` are
    kept with a warning: a dislike read as an interaction is wrong without a word otherwise."""
    if min_rating is None:
        negative = 0 if ratings is None else int((ratings < 0).sum())
        if negative:
            warnings.warn(SettingWarning(
                "min_rating",
                f"{name}: {negative} ratings are negative and count as interactions; "
                "set min_rating to keep only ratings at or above it",
            ), stacklevel=3)
        return None
    min_rating = require_number("min_rating", min_rating)
    if ratings is None:
        raise MarginRankError(f"min_rating needs a rating column; this file has {width} columns", path=name)
    keep = ratings >= min_rating
    if not keep.any():
        raise MarginRankError(f"no rating is at least {min_rating:g} (min_rating); the largest is {ratings.max():g}", path=name)
    return keep


def _encode(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Raw ids -> (sorted unique ids, index per row): ints in numeric order when every id is a plain
    integer, else text in code-point order."""
    unique, inverse = np.unique(column, return_inverse=True)
    numbers = _plain_integers(unique)
    if numbers is None:
        return unique.astype(object), inverse.astype(np.int64)
    order = np.argsort(numbers, kind="stable")
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    return numbers[order], rank[inverse]


def _plain_integers(texts: np.ndarray) -> np.ndarray | None:
    """``texts`` as integers if each reads back exactly (``str(int(t)) == t``: not ``007``, ``+7``,
    ``1_000``); int64 where they fit, else Python ints."""
    try:
        numbers = texts.astype(np.int64)
    except ValueError:
        return None
    except OverflowError:
        try:
            numbers = np.array([int(text) for text in texts.tolist()], dtype=object)
        except ValueError:
            return None
    return numbers if (numbers.astype(str) == texts).all() else None


def _map_into(
    like: Interactions, raw_users: np.ndarray, raw_items: np.ndarray, numbers: dict, name: str, line_numbers: np.ndarray
) -> Interactions:
    users = _positions(like.user_id_index, raw_users)
    items = _positions(like.item_id_index, raw_items)
    if (users < 0).any():
        first = int(np.flatnonzero(users < 0)[0])
        raise MarginRankError(f"user {str(raw_users[first])!r} is unknown to the training data", path=name, line=int(line_numbers[first]))
    keep = items >= 0
    if not keep.all():
        warnings.warn(f"{name}: {int((~keep).sum())} rows with items unknown to the training data dropped", stacklevel=3)
    return Interactions.from_pairs(
        users[keep], items[keep], user_ids=like.user_ids, item_ids=like.item_ids,
        ratings=None if "rating" not in numbers else numbers["rating"][keep],
        timestamps=None if "timestamp" not in numbers else numbers["timestamp"][keep],
        source=name,
    )


def _positions(index: dict, column: np.ndarray) -> np.ndarray:
    """Index of each raw id of ``column`` in a training set's ``index``, -1 where unknown."""
    unique, inverse = np.unique(column, return_inverse=True)
    return find_ids(index, unique.tolist())[inverse]


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
