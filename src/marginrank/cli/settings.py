"""Run settings: built-in defaults < a preset (``--preset``) < a TOML file (``--config``) < command-line options.

Every field of :class:`marginrank.recommender.RecommenderParams` is an option (``--batch-size``,
``--no-exclude-positives``, ``--loss-param margins=[0.7,0.8]``, ``--model-param layers=1``) and a TOML
key (``batch_size``, tables ``[loss_params]``, ``[model_params]``, ``[miner_params]``); the run-level keys are ``dataset``, ``data``, ``data_root``,
``split``, ``split_seed``, ``header`` and ``min_rating``.
They become typed settings here, once; the library never sees them. One default differs from the
library's and follows other settings: ``refit`` is on under the validation protocol (unless
``restore_best_on_lr_cut``), so that the final model trains on every pair.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import re
import tomllib
from pathlib import Path
from typing import Any

from marginrank.errors import MarginRankError, SettingError
from marginrank.recommender import RecommenderParams, field_kind

RUN_KEYS = {
    "dataset": str, "data": str, "data_root": str, "split": str, "split_seed": int, "header": bool, "min_rating": float,
}
KIND_NAMES = {str: "a string", int: "an integer", bool: "true or false", float: "a number"}
SPLITS = ("holdout", "leave-last-out")

TABLES = {"loss_params": "--loss-param", "model_params": "--model-param", "miner_params": "--miner-param"}

PRESET = "preset"
PRESETS = {  # name -> settings under the TOML file and the options
    "fast": {},
    "paper": {  # the published protocol of SimpleX and MMCL: negatives drawn per example, known positives left out
        "shared_negatives": False, "exclude_positives": True, "batch_size": 1024, "lr": 1e-3,
    },
}

HELP = {
    "model": "model name (mf, lightgcn)",
    "model_params": "a setting of the model as KEY=VALUE in TOML syntax, e.g. layers=1 (lightgcn), dropout_before_norm=true or init=normal (mf) (repeatable)",
    "loss": "loss name (mmcl, ccl, bpr, hinge, max_margin, softmax, bsl, psl, mse, bce)",
    "loss_params": "a loss parameter as KEY=VALUE in TOML syntax, e.g. neg_weight=700 or margins=[0.7,0.8,0.9] (repeatable)",
    "miner": "pick the negatives the loss sees from the drawn ones (the candidates) by their scores: hard, semi-hard, mixed or warmup",
    "miner_params": "a miner parameter as KEY=VALUE, e.g. k=20 (hard, warmup), margin=0.2 (semi-hard), n_hard=5 (mixed) (repeatable)",
    "negatives": "negatives per example (or size of the shared pool)",
    "shared_negatives": "one pool of negatives per batch: scoring is one matrix product",
    "group_size": "with --shared-negatives: rows of the batch that share one pool (default: batch size / 32)",
    "sampler": "uniform, popularity or in-batch (the batch's other positives)",
    "popularity_alpha": "exponent of the popularity sampler (count ** alpha)",
    "exclude_positives": "never use a user's known positives as negatives",
    "log_q_correction": "correct a softmax loss (softmax, bsl) for the sampling probabilities",
    "top_k_weight": "K of SL@K's weight sigmoid((s_p - beta_u)/t_w) on the loss, beta_u the user's K-th score (0: off)",
    "top_k_weight_temperature": "t_w of the top-K weight",
    "top_k_refresh_every": "re-estimate the users' top-K thresholds before every N-th epoch",
    "dim": "embedding size",
    "similarity": "cosine (bounded, resists collapse) or dot",
    "ranking_similarity": "the score evaluation and recommendations rank by: auto (dot for a cosine LightGCN trained "
    "by a softmax loss on in-batch negatives, else same), same (the training score), cosine or dot (dot adds the item norms that cosine "
    "training leaves free)",
    "dropout": "embedding dropout on the user vector",
    "init_std": "standard deviation of the initial embeddings",
    "score_precision": "precision of the training products with the negatives: auto (bfloat16 on a CPU that multiplies it natively), float32 or bfloat16; evaluation is float32",
    "optimizer": "adam, adagrad or sgd",
    "lr": "learning rate (default: 3e-4 * sqrt(4096 / batch size))",
    "sparse": "sparse embedding gradients (lazy Adam: only rows a batch touches are updated)",
    "batch_size": "training pairs per batch (default: about 64 steps per epoch, a power of two in 256-4096)",
    "positive_sampling": "pairs (every training pair once per epoch) or users (a uniform user, then one of its pairs: LightGCN's sampler)",
    "epochs": "maximum number of epochs",
    "l2": "L2 weight on the embedding rows a batch uses",
    "clip_norm": "clip the gradient norm to this value",
    "max_norm": "renormalize embedding rows to at most this norm after each step (TransE-style guard)",
    "protocol": "validation (10%% of train held out), paper (monitor test: optimistic) or none",
    "valid_ratio": "share of each user's training items held out for validation",
    "refit": "after validation picks the best epoch, retrain from scratch on all training pairs for that many epochs, "
    "replaying its learning rates; the test metrics are the refit's (default: on under --protocol validation)",
    "eval_every": "evaluate every N epochs",
    "ks": "cut-offs of the metrics",
    "monitor": "metric that picks the best epoch (default: recall at the first of --ks)",
    "patience": "stop after this many evaluations without improvement",
    "lr_schedule": "plateau (cut by lr_factor after lr_patience flat evaluations) or cosine (anneal per step to min_lr over epochs)",
    "lr_patience": "reduce the learning rate after this many evaluations without improvement",
    "lr_factor": "learning-rate reduction factor",
    "restore_best_on_lr_cut": "reload the best epoch's weights at each learning-rate cut (RecBox's schedule)",
    "average_decay": "evaluate and keep an exponential moving average of the weights with this decay (e.g. 0.999)",
    "min_lr": "lowest learning rate",
    "collapse_check": "check every epoch for signs of collapse",
    "on_collapse": "warn or stop when a collapse is detected",
    "time_limit": "stop after the epoch that ends past this many seconds of training",
    "seed": "random seed (model, batches, negatives, validation split)",
    "progress": "print one line per epoch on stderr (loss, monitored metric, learning rate, seconds)",
    "progress_bar": "show a bar over each epoch's batches (on a terminal only)",
    "device": "cpu or cuda",
}


@dataclasses.dataclass
class RunSettings:
    recommender: RecommenderParams
    dataset: str | None = None
    data: Path | None = None
    data_root: Path | None = None
    split: str = "holdout"
    split_seed: int = 0
    header: bool | None = None
    min_rating: float | None = None

    def to_toml(self) -> str:
        """The resolved settings as TOML (what ``--config`` reads back); ``refit`` only where it differs
        from its default, so that it keeps following the protocol when that is changed."""
        run = {key: getattr(self, key) for key in RUN_KEYS if getattr(self, key) is not None}
        params = dataclasses.asdict(self.recommender)
        if params["refit"] == _refits_by_default(params):
            del params["refit"]
        tables = {name: params.pop(name) for name in TABLES}
        lines = [f"{key} = {_toml_value(value)}" for key, value in {**run, **params}.items() if value is not None]
        for name, table in tables.items():
            if table:
                lines += ["", f"[{name}]"] + [f"{key} = {_toml_value(value)}" for key, value in table.items()]
        return "\n".join(lines) + "\n"


def option_of(setting: str) -> str:
    """The command-line option that sets ``setting`` (``"batch_size"`` -> ``--batch-size``)."""
    return TABLES.get(setting, "--" + setting.replace("_", "-"))


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'


def add_recommender_options(parser: argparse.ArgumentParser) -> None:
    """One option per RecommenderParams field, defaulting to None (= not given); each help names the default."""
    parser.add_argument(
        "--preset", choices=sorted(PRESETS), default=None,
        help="fast (default: shared pools, batch and lr scaled to the data) or paper (negatives per example, "
        "known positives left out, batch 1024, lr 1e-3, as published)",
    )
    for field in dataclasses.fields(RecommenderParams):
        flag = option_of(field.name)
        kind = field_kind(field)
        help_text = HELP.get(field.name, "")
        if field.name not in TABLES and "(default:" not in help_text:
            default = field.default if field.default is not dataclasses.MISSING else field.default_factory()
            help_text += f" (default: {_toml_value(default) if default is not None else 'none'})"
        if field.name in TABLES:
            parser.add_argument(option_of(field.name), dest=field.name, action="append", metavar="KEY=VALUE", help=help_text)
        elif kind == "bool":
            parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        elif kind.startswith("tuple"):
            parser.add_argument(flag, type=int, nargs="+", default=None, help=help_text)
        else:
            base = {"int": int, "float": float, "str": str}[kind.split("|")[0]]
            parser.add_argument(flag, type=base, default=None, help=help_text)


def load_toml(path: Path, what: str = "config file") -> dict[str, Any]:
    """The table of a TOML file; a missing or unreadable one is a one-line error naming ``what`` it should be."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))  # -sig: a byte order mark is skipped
    except FileNotFoundError:
        raise MarginRankError(f"{what} not found", path=str(path)) from None
    except IsADirectoryError:
        raise MarginRankError(f"is a directory, expected a TOML {what}", path=str(path)) from None
    except UnicodeDecodeError:
        raise MarginRankError(f"not a TOML {what} (not UTF-8 text)", path=str(path)) from None
    except tomllib.TOMLDecodeError as error:
        raise MarginRankError(f"invalid TOML: {error}", path=str(path)) from None


def read_toml(path: Path) -> dict[str, Any]:
    table = load_toml(path)
    known = set(RUN_KEYS) | {PRESET} | {f.name for f in dataclasses.fields(RecommenderParams)}
    unknown = sorted(set(table) - known)
    if unknown:
        raise MarginRankError(f"unknown setting(s) {unknown}", path=str(path))
    return table


def _parse_table(flag: str, items: list[str]) -> dict[str, Any]:
    params = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise MarginRankError(f"{flag} expects KEY=VALUE, got {item!r}")
        try:
            params[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            params[key.strip()] = value  # a bare word, e.g. a mode name
    return params


def resolve(args: argparse.Namespace) -> RunSettings:
    """Defaults < TOML (``args.config``) < options given on the command line.

    A bad value read from the TOML file is reported with the file and the line that sets it.
    """
    config = getattr(args, "config", None)
    values: dict[str, Any] = read_toml(config) if config else {}
    preset = getattr(args, PRESET, None) or values.pop(PRESET, "fast")
    if preset not in PRESETS:
        raise MarginRankError(f"preset must be one of {', '.join(sorted(PRESETS))}, got {preset!r}", path=str(config),
                              line=line_of(Path(config), PRESET))
    values.pop(PRESET, None)
    from_file = set(values)
    values = {**PRESETS[preset], **values}
    for key in RUN_KEYS:
        given = getattr(args, key, None)
        if given is not None:
            values[key] = given
            from_file.discard(key)
    for field in dataclasses.fields(RecommenderParams):
        given = getattr(args, field.name, None)
        if given is None:
            continue
        if field.name in TABLES:
            given = {**values.get(field.name, {}), **_parse_table(TABLES[field.name], given)}
        values[field.name] = given
        from_file.discard(field.name)
    values.setdefault("refit", _refits_by_default(values))
    try:
        recommender, run = _typed(values)
    except SettingError as error:
        if error.setting not in from_file:
            raise
        raise MarginRankError(str(error), path=str(config), line=line_of(Path(config), error.setting)) from None
    return RunSettings(
        recommender=recommender,
        dataset=run.get("dataset"),
        data=Path(run["data"]) if run.get("data") else None,
        data_root=Path(run["data_root"]) if run.get("data_root") else None,
        split=run.get("split", "holdout"),
        split_seed=run.get("split_seed", 0),
        header=run.get("header"),
        min_rating=None if run.get("min_rating") is None else float(run["min_rating"]),
    )


def _refits_by_default(values: dict[str, Any]) -> bool:
    """The command line refits its final model where it can: under the validation protocol, unless the
    best weights are reloaded at learning-rate cuts (a refit cannot replay those)."""
    protocol = values.get("protocol", RecommenderParams.protocol)
    return protocol == "validation" and not values.get("restore_best_on_lr_cut", RecommenderParams.restore_best_on_lr_cut)


def run_settings(args: argparse.Namespace) -> RunSettings:
    """The run-level settings alone, for a command that trains nothing (``inspect``)."""
    return resolve(argparse.Namespace(**{key: getattr(args, key, None) for key in RUN_KEYS}))


def _typed(values: dict[str, Any]) -> tuple[RecommenderParams, dict[str, Any]]:
    """``(RecommenderParams, run-level keys)`` from plain values; a bad one raises :class:`SettingError`."""
    values = dict(values)
    run = {key: values.pop(key) for key in list(values) if key in RUN_KEYS}
    for key, expected in RUN_KEYS.items():
        if key in run and not _is_kind(run[key], expected):
            raise SettingError(key, f"setting {key!r} must be {KIND_NAMES[expected]}, got {run[key]!r}")
    if run.get("split_seed", 0) < 0:
        raise SettingError("split_seed", f"split_seed must be >= 0, got {run['split_seed']}")
    if run.get("split", "holdout") not in SPLITS:
        raise SettingError("split", f"split must be one of {', '.join(SPLITS)}, got {run['split']!r}")
    if "min_rating" in run and not math.isfinite(run["min_rating"]):
        raise SettingError("min_rating", f"min_rating must be a finite number, got {run['min_rating']!r}")
    return RecommenderParams(**values), run


def _is_kind(value: Any, expected: type) -> bool:
    """Whether a run-level value has its key's type (a path counts as a string, an int as a number)."""
    if isinstance(value, bool) or expected is bool:
        return isinstance(value, bool) and expected is bool
    if expected is float:
        return isinstance(value, (int, float))
    return isinstance(value, (expected, Path))


def line_of(path: Path, key: str) -> int | None:
    """The line of ``path`` that sets ``key``: a ``[key]`` table, or ``name = ...`` in the table that
    holds it (``"lr"`` at the top, ``"loss_params.margin"`` under ``[loss_params]``)."""
    table = ""
    for number, line in enumerate(path.read_text(encoding="utf-8-sig", errors="replace").splitlines(), start=1):
        header = re.match(r"\s*\[\s*([^\[\]]+?)\s*\]", line)
        if header:
            table = re.sub(r"\s*\.\s*", ".", header.group(1))
            if table == key:
                return number
            continue
        assignment = re.match(r"\s*([A-Za-z0-9_.\-]+)\s*=", line)
        if assignment and ".".join(filter(None, (table, assignment.group(1)))) == key:
            return number
    return None
