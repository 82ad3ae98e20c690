"""The list of sub-command modules; each has ``register(subparsers)``."""

from __future__ import annotations

import importlib
from types import ModuleType

_COMMAND_MODULES: tuple[str, ...] = ("train", "evaluate", "recommend", "export", "plot", "inspect", "nmf", "rank", "metric", "tune")


def all_commands() -> list[ModuleType]:
    return [importlib.import_module(f"marginrank.cli.{name}") for name in _COMMAND_MODULES]
