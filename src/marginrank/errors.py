"""The exception marginrank raises for bad input, its subclass for a bad setting, and the warning that
names a setting."""

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


class SettingError(MarginRankError):
    """A setting with a bad value. ``setting`` names it, so that whoever read it from a file can
    point at the file and line it came from."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting


class SettingWarning(UserWarning):
    """Input that is read, but perhaps not as meant: ``setting`` names the setting that changes how,
    so that the command line can name its option."""

    def __init__(self, setting: str, message: str) -> None:
        super().__init__(message)
        self.setting = setting
