"""The text of an input file, from a path or a binary stream (standard input).

Rating files often come gzip-compressed or with a byte order mark: both are undone here, so every
reader sees the same plain text, and bytes that are not UTF-8 are named by their line.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import math
import os
import zlib
from pathlib import Path
from typing import BinaryIO

from marginrank.errors import MarginRankError

Source = str | os.PathLike | BinaryIO

_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


def source_name(source: Source) -> str:
    """How messages name the source: its path, or the stream's name (``<stdin>``)."""
    if hasattr(source, "read"):
        return str(getattr(source, "name", "<stream>"))
    return str(source)


def read_text(source: Source) -> str:
    """The decoded text; a missing, unreadable, empty or non-UTF-8 source is an error naming it."""
    name = source_name(source)
    data = _read_bytes(source, name)
    if data.startswith(_GZIP_MAGIC):
        try:
            data = gzip.decompress(data)
        except (EOFError, gzip.BadGzipFile, zlib.error) as error:
            raise MarginRankError(f"not a complete gzip file ({error})", path=name) from None
    elif data.startswith(_ZIP_MAGIC):
        raise MarginRankError("a zip archive: extract the file inside it first", path=name)
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise MarginRankError(
            f"not UTF-8 text (byte 0x{data[error.start]:02x}: {error.reason}); save it as UTF-8",
            path=name, line=data.count(b"\n", 0, error.start) + 1,
        ) from None
    if not text.strip():
        raise MarginRankError("file is empty", path=name)
    return text


def _read_bytes(source: Source, name: str) -> bytes:
    if hasattr(source, "read"):
        data = source.read()
        if isinstance(data, str):
            raise MarginRankError("expected a binary stream (such as sys.stdin.buffer), got text", path=name)
        return data
    try:
        return Path(source).read_bytes()
    except FileNotFoundError:
        raise MarginRankError("file not found", path=name) from None
    except IsADirectoryError:
        raise MarginRankError("is a directory, expected a file", path=name) from None


def finite_number(text: str, what: str, path: str | os.PathLike, line: int) -> float:
    """``text`` as a finite float; otherwise an error naming ``what`` (e.g. ``"feature 3"``), the file and the line."""
    try:
        value = float(text)
    except ValueError:
        raise MarginRankError(f"{what} is not a number: {text.strip()!r}", path=str(path), line=line) from None
    if not math.isfinite(value):
        raise MarginRankError(f"{what} is not a finite number: {text.strip()!r}", path=str(path), line=line)
    return value


def csv_rows(source: Source, delimiter: str = ",") -> tuple[list[str], list[int], list[list[str]]]:
    """``(header, line numbers, rows)`` of a CSV text with a header line (read by :func:`read_text`);
    blank rows are skipped, and a row with another number of fields than the header is an error
    naming its line."""
    reader = csv.reader(io.StringIO(read_text(source)), delimiter=delimiter)
    header = [name.strip() for name in next(reader)]
    lines: list[int] = []
    rows: list[list[str]] = []
    for row in reader:
        if not any(field.strip() for field in row):
            continue
        if len(row) != len(header):
            raise MarginRankError(f"{len(row)} fields; the header has {len(header)}", path=source_name(source), line=reader.line_num)
        lines.append(reader.line_num)
        rows.append(row)
    return header, lines, rows
