"""The one exception type marginrank raises for bad input."""

from __future__ import annotations


class MarginRankError(ValueError):
    """Bad input or options: the message says what, and where (file and line) when known.

    The CLI prints the message on one line and exits with status 2.
    """

    def __init__(self, message: str, *, path: str | None = None, line: int | None = None) -> None:
        where = ""
        if path is not None:
            where = f"{path}:{line}: " if line is not None else f"{path}: "
        super().__init__(where + message)
        self.path = path
        self.line = line
