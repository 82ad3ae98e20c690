"""Search spaces: which settings a search varies, and over which values.

A space is a table (a TOML file at the command line) with one entry per searched setting of
:class:`~marginrank.recommender.RecommenderParams`; a setting of a loss, model or miner is an entry
of ``loss_params``, ``model_params`` or ``miner_params``. Each entry holds one distribution::

    [lr]
    log_uniform = [1e-4, 3e-3]      # float, uniform in log space
    [dropout]
    uniform = [0.0, 0.3]            # float
    [negatives]
    choice = [100, 800]             # one of these values (numbers, strings, true/false)
    [loss_params.neg_weight]
    log_int = [10, 1000]            # integer, uniform in log space (int: uniform)

The MMCL entry samples the loss's ``margins`` and ``weights`` together::

    [mmcl]
    count = 3                       # margins (a list: one of these counts)
    margins = [0.3, 0.95]           # the range the margins lie strictly inside

The margins are ordered by construction: ``count + 1`` gaps ``g_j`` are drawn in ``[0.05, 1]``
and margin ``k`` sits at ``low + (high - low) * (g_0 + ... + g_k) / (g_0 + ... + g_count)``, so
they increase strictly and none reaches either end. The weights are a softmax of ``count``
logits drawn in ``[-3, 3]``: non-negative, summing to 1, in ratios up to about 400. Both are rounded
to 4 decimals before the trial trains, so the settings a trial reports are exactly those it used.

Settings that decide what a search measures (``protocol``, ``valid_ratio``, ``refit``, ``monitor``,
``ks``) are not searched. A bad entry is a :class:`SpaceError` naming its key.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from marginrank.errors import MarginRankError, SettingError
from marginrank.recommender import RecommenderParams

TABLES = ("loss_params", "model_params", "miner_params")
NOT_SEARCHED = ("protocol", "valid_ratio", "refit", "monitor", "ks")
RANGES = ("uniform", "log_uniform", "int", "log_int")
KINDS = (*RANGES, "choice")
MMCL = "mmcl"
GAP_RANGE = (0.05, 1.0)
LOGIT_RANGE = (-3.0, 3.0)
DECIMALS = 4


class SpaceError(MarginRankError):
    """A bad entry of a search space; ``key`` names it (``"lr"``, ``"loss_params.margin"``, ``"mmcl"``)."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(message)
        self.key = key


class Trial(Protocol):
    """What a space draws from: an ``optuna.Trial``'s ``suggest_*`` methods."""

    def suggest_float(self, name: str, low: float, high: float, *, log: bool = False) -> float: ...

    def suggest_int(self, name: str, low: int, high: int, *, log: bool = False) -> int: ...

    def suggest_categorical(self, name: str, choices: list[Any]) -> Any: ...


@dataclass(frozen=True)
class Range:
    """``kind`` (uniform, log_uniform, int, log_int) between ``low`` and ``high``, both included."""

    kind: str
    low: float
    high: float

    def suggest(self, trial: Trial, name: str) -> Any:
        log = self.kind.startswith("log")
        if self.kind.endswith("int"):
            return trial.suggest_int(name, int(self.low), int(self.high), log=log)
        return trial.suggest_float(name, self.low, self.high, log=log)

    def points(self) -> tuple[Any, ...]:
        kind = int if self.kind.endswith("int") else float
        return kind(self.low), kind(self.high)


@dataclass(frozen=True)
class Choice:
    values: tuple[Any, ...]

    def suggest(self, trial: Trial, name: str) -> Any:
        return trial.suggest_categorical(name, list(self.values))

    def points(self) -> tuple[Any, ...]:
        return self.values


@dataclass(frozen=True)
class MMCLMargins:
    """MMCL's ``margins`` and ``weights``: ``count`` ordered margins strictly inside ``(low, high)``
    and non-negative weights summing to 1 (see the module's text)."""

    counts: tuple[int, ...]
    low: float
    high: float

    def suggest(self, trial: Trial, name: str = MMCL) -> dict[str, list[float]]:
        count = self.counts[0] if len(self.counts) == 1 else trial.suggest_categorical(f"{name}.count", list(self.counts))
        gaps = [trial.suggest_float(f"{name}.gap{j}", *GAP_RANGE) for j in range(count + 1)]
        logits = [trial.suggest_float(f"{name}.logit{k}", *LOGIT_RANGE) for k in range(count)]
        return self.settings(gaps, logits)

    def settings(self, gaps: list[float], logits: list[float]) -> dict[str, list[float]]:
        """``{"margins": [...], "weights": [...]}`` from ``count + 1`` gaps and ``count`` logits."""
        total, below, margins = sum(gaps), 0.0, []
        for gap in gaps[:-1]:
            below += gap
            margins.append(round(self.low + (self.high - self.low) * below / total, DECIMALS))
        top = max(logits)
        exps = [math.exp(logit - top) for logit in logits]
        weights = [round(e / sum(exps), DECIMALS) for e in exps]
        return {"margins": margins, "weights": weights}

    def points(self) -> tuple[dict[str, list[float]], ...]:
        """Evenly spaced margins with equal weights, for each count."""
        return tuple(self.settings([1.0] * (count + 1), [0.0] * count) for count in self.counts)


Distribution = Range | Choice | MMCLMargins


class SearchSpace:
    """The searched settings: ``entries`` maps a key (``"lr"``, ``"loss_params.margin"``, ``"mmcl"``)
    to its distribution. Build it from a table with :meth:`from_table`."""

    def __init__(self, entries: dict[str, Distribution]) -> None:
        self.entries = dict(entries)

    @classmethod
    def from_table(cls, table: dict[str, Any]) -> SearchSpace:
        """The space a TOML table describes; a bad entry raises a :class:`SpaceError` naming its key."""
        entries: dict[str, Distribution] = {}
        settings = {setting.name for setting in dataclasses.fields(RecommenderParams)}
        for key, value in table.items():
            if key == MMCL:
                entries[key] = _mmcl(value)
            elif key in TABLES:
                if not isinstance(value, dict) or not value:
                    raise SpaceError(key, f"{key} holds one entry per parameter, e.g. [{key}.NAME] with uniform = [LOW, HIGH]")
                for name, entry in value.items():
                    entries[f"{key}.{name}"] = _distribution(f"{key}.{name}", entry)
            elif key in NOT_SEARCHED:
                raise SpaceError(key, f"{key} is not searched: it decides what the search measures (set it in the base config)")
            elif key in settings:
                entries[key] = _distribution(key, value)
            else:
                raise SpaceError(key, f"{key!r} is neither a setting of a run (a field of RecommenderParams) nor {MMCL!r}")
        if not entries:
            raise SpaceError("", "the search space is empty: give at least one setting, e.g. [lr] with log_uniform = [1e-4, 1e-2]")
        if MMCL in entries and {"loss_params.margins", "loss_params.weights"} & entries.keys():
            raise SpaceError(MMCL, "[mmcl] samples loss_params.margins and weights; do not search them on their own too")
        return cls(entries)

    def sample(self, trial: Trial) -> dict[str, Any]:
        """One draw: the settings it changes, tables nested (``{"lr": ..., "loss_params": {...}}``)."""
        return _nested((key, distribution.suggest(trial, key)) for key, distribution in self.entries.items())

    def corners(self) -> list[dict[str, Any]]:
        """Draws that together take every end of every range and every choice: what a check tries."""
        points = {key: distribution.points() for key, distribution in self.entries.items()}
        rounds = max(len(values) for values in points.values())
        return [_nested((key, values[min(i, len(values) - 1)]) for key, values in points.items()) for i in range(rounds)]

    def apply(self, params: RecommenderParams, drawn: dict[str, Any]) -> RecommenderParams:
        """``params`` with the drawn settings (a table's drawn entries over its own), checked; a bad
        value raises the :class:`SettingError` of :class:`RecommenderParams`."""
        changes = {key: {**getattr(params, key), **value} if key in TABLES else value for key, value in drawn.items()}
        return dataclasses.replace(params, **changes)

    def check(self, params: RecommenderParams) -> None:
        """Every corner applied to ``params``; a setting it makes bad raises a :class:`SpaceError`
        naming the entry that sets it."""
        for corner in self.corners():
            try:
                self.apply(params, corner)
            except SettingError as error:
                raise SpaceError(self.key_of(error.setting), f"with {describe(corner)}: {error}") from None

    def key_of(self, setting: str) -> str:
        """The entry that sets ``setting`` (the first, for a table)."""
        if setting == "loss_params" and MMCL in self.entries:
            return MMCL
        return next((key for key in self.entries if key.split(".")[0] == setting), setting)

    def to_table(self) -> dict[str, Any]:
        """The space as plain values (what a study stores to recognise its space on resume)."""
        return {key: dataclasses.asdict(distribution) | {"type": type(distribution).__name__}
                for key, distribution in self.entries.items()}


def describe(drawn: dict[str, Any]) -> str:
    """``"lr=0.001, loss_params.margin=0.5"``: drawn settings on one line."""
    return ", ".join(f"{key}={_short(value)}" for key, value in _flat(drawn))


def _flat(drawn: dict[str, Any]) -> Iterator[tuple[str, Any]]:
    for key, value in drawn.items():
        if key in TABLES:
            yield from ((f"{key}.{name}", inner) for name, inner in value.items())
        else:
            yield key, value


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, list):
        return "[" + ", ".join(_short(v) for v in value) + "]"
    return str(value)


def _nested(pairs: Iterator[tuple[str, Any]]) -> dict[str, Any]:
    drawn: dict[str, Any] = {}
    for key, value in pairs:
        if key == MMCL:
            drawn.setdefault("loss_params", {}).update(value)
        elif "." in key:
            table, name = key.split(".", 1)
            drawn.setdefault(table, {})[name] = value
        else:
            drawn[key] = value
    return drawn


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _distribution(key: str, entry: Any) -> Range | Choice:
    example = f"e.g. [{key}] with uniform = [LOW, HIGH] or choice = [A, B]"
    if not isinstance(entry, dict) or len(entry) != 1:
        raise SpaceError(key, f"{key} needs exactly one distribution ({', '.join(KINDS)}), {example}")
    (kind, values), = entry.items()
    if kind not in KINDS:
        raise SpaceError(key, f"{key}: unknown distribution {kind!r}; one of {', '.join(KINDS)}")
    if kind == "choice":
        if not isinstance(values, list) or not values or not all(isinstance(v, (bool, int, float, str)) for v in values):
            raise SpaceError(key, f"{key}: choice is a non-empty list of numbers, strings or true/false, got {values!r}")
        return Choice(tuple(values))
    if not isinstance(values, list) or len(values) != 2 or not all(_is_number(v) for v in values):
        raise SpaceError(key, f"{key}: {kind} takes [LOW, HIGH], two numbers, got {values!r}")
    low, high = values
    if not low < high:
        raise SpaceError(key, f"{key}: {kind} needs LOW < HIGH, got [{low}, {high}]")
    if kind.startswith("log") and low <= 0:
        raise SpaceError(key, f"{key}: {kind} needs LOW > 0, got {low}")
    if kind.endswith("int") and not all(isinstance(v, int) for v in values):
        raise SpaceError(key, f"{key}: {kind} takes two integers, got {values!r}")
    return Range(kind, low, high)


def _mmcl(entry: Any) -> MMCLMargins:
    usage = "[mmcl] takes count = K (or a list of counts) and margins = [LOW, HIGH]"
    if not isinstance(entry, dict) or set(entry) != {"count", "margins"}:
        raise SpaceError(MMCL, usage + (f", got keys {sorted(entry)}" if isinstance(entry, dict) else ""))
    counts = entry["count"] if isinstance(entry["count"], list) else [entry["count"]]
    if not counts or not all(isinstance(c, int) and not isinstance(c, bool) and c >= 1 for c in counts):
        raise SpaceError(MMCL, f"mmcl count must be an integer >= 1 or a list of them, got {entry['count']!r}")
    margins = entry["margins"]
    if not isinstance(margins, list) or len(margins) != 2 or not all(_is_number(m) for m in margins) or not margins[0] < margins[1]:
        raise SpaceError(MMCL, f"mmcl margins is the range [LOW, HIGH] (LOW < HIGH) they lie inside, got {margins!r}")
    return MMCLMargins(tuple(counts), float(margins[0]), float(margins[1]))
