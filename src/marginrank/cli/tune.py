"""``marginrank tune``: search hyper-parameters on the validation split, resumable; write the best
settings as a config ``train --config`` reruns.

The run folder (``--out``) holds ``study.db`` (the Optuna study: run ``tune`` again on the folder to
continue it), ``trials/trial-N`` (each trial a run folder), ``best.toml``, ``summary.json`` and
``search.png``. Only the training pairs are handed to the search; see :mod:`marginrank.tuning`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
import sys
from pathlib import Path

from marginrank.atomic import atomic_write_text
from marginrank.cli.runs import CONFIG, fresh_run_dir
from marginrank.cli.search_figure import draw_search
from marginrank.cli.settings import RunSettings, add_recommender_options, line_of, load_toml, resolve
from marginrank.cli.sources import add_source_options, load_source
from marginrank.cli.train import absolute_paths
from marginrank.errors import MarginRankError
from marginrank.recommender import RecommenderParams
from marginrank.tuning import STUDY_FILE, Search, SearchSpace, SpaceError, best_trial, summarize
from marginrank.tuning.dependency import import_optuna

BEST, SUMMARY, FIGURE = "best.toml", "summary.json", "search.png"
UNITS = {"s": 1, "m": 60, "h": 3600}


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "tune",
        help="search hyper-parameters on the validation split (Optuna; resumable), write the best as a config",
        description="Search the settings of --space around the base settings (--config, options) with Optuna's TPE, "
        "pruning trials that fall behind on the validation metric. Trials see the training pairs only, never the "
        "test split. Running it again on the same --out continues the study.",
    )
    add_source_options(parser, default_dataset="synthetic")
    parser.add_argument("--config", type=Path, help="TOML file of the base settings (as train --config)")
    parser.add_argument("--space", type=Path, required=True, help="TOML file of the search space (see docs/tuning.md)")
    parser.add_argument("--trials", type=int, default=20, help="trials in the study in total, those of a resumed study included (default: 20)")
    parser.add_argument("--budget", type=duration, default=None,
                        help="wall-clock limit of this call, e.g. 90s, 30m, 2h, 1h30m: no trial starts after it (default: none)")
    parser.add_argument("--out", type=Path, help="search folder (default: runs/tune-<dataset>-<loss>); an existing study there resumes")
    parser.add_argument("--sampler-seed", type=int, default=0, help="seed of the TPE sampler (default: 0)")
    parser.add_argument("--startup-trials", type=int, default=10, help="trials drawn at random before TPE models the results (default: 10)")
    parser.add_argument("--no-prune", dest="prune", action="store_false", help="let every trial run to its end")
    parser.add_argument("--prune-warmup", type=int, default=2, help="epochs a trial runs before it may be pruned (default: 2)")
    parser.add_argument("--quiet", action="store_true", help="no per-epoch lines from the trials, one line per trial")
    add_recommender_options(parser)
    parser.set_defaults(func=run)


def duration(text: str) -> float:
    """Seconds of ``90``, ``90s``, ``30m``, ``2h``, ``1h30m``, ``1.5h``."""
    parts = re.fullmatch(r"(?:\d+(?:\.\d+)?[smh])+|\d+(?:\.\d+)?", text.strip())
    seconds = 0.0 if parts is None else (float(text) if text.strip()[-1].isdigit() else
                                         sum(float(n) * UNITS[u] for n, u in re.findall(r"(\d+(?:\.\d+)?)([smh])", text)))
    if parts is None or seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a duration such as 90s, 30m, 2h or 1h30m, got {text!r}")
    return seconds


def run(args: argparse.Namespace) -> int:
    optuna = import_optuna()
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # the lines of the trials are ours
    if args.trials < 1 or args.startup_trials < 0 or args.prune_warmup < 0:
        raise MarginRankError("--trials must be >= 1, --startup-trials and --prune-warmup >= 0")
    settings = absolute_paths(resolve(args))
    _require_validation(settings.recommender, args.config)
    space = read_space(args.space)
    dataset = load_source(settings)
    out = fresh_run_dir(args.out, f"tune-{dataset.name}-{settings.recommender.loss}")
    if out.is_dir() and any(out.iterdir()) and not (out / STUDY_FILE).exists():
        raise MarginRankError(f"holds files and no {STUDY_FILE}: not a search folder; search into a new or empty one", path=str(out))

    def write_config(run_dir: Path, params: RecommenderParams) -> None:
        atomic_write_text(run_dir / CONFIG, dataclasses.replace(settings, recommender=params).to_toml())

    shown = settings.recommender.progress and not args.quiet
    trial_params = dataclasses.replace(settings.recommender, progress=shown, progress_bar=shown and settings.recommender.progress_bar)
    try:
        search = Search(dataset.train, trial_params, space, out, seed=args.sampler_seed,
                        startup_trials=args.startup_trials, prune=args.prune, prune_warmup=args.prune_warmup,
                        on_trial_start=write_config, report=lambda line: print(line, file=sys.stderr, flush=True))
    except SpaceError as error:
        raise MarginRankError(str(error), path=str(args.space), line=line_of(args.space, error.key)) from None
    print(f"searching {len(space.entries)} settings of {settings.recommender.loss} on {dataset.name} "
          f"({len(dataset.train):,} training pairs, the test split left out) -> {out}", file=sys.stderr)
    study = search.run(args.trials, args.budget)
    write_results(study, settings, space, out)
    return 0


def read_space(path: Path) -> SearchSpace:
    """The search space of a TOML file; a bad entry is one line naming the file and its line."""
    try:
        return SearchSpace.from_table(load_toml(path, "search space file"))
    except SpaceError as error:
        raise MarginRankError(str(error), path=str(path), line=line_of(path, error.key) if error.key else None) from None


def _require_validation(params: RecommenderParams, config: Path | None) -> None:
    if params.protocol == "validation":
        return
    message = (f"a search scores its trials on the validation split and never reads the test split: protocol must be "
               f"'validation', not {params.protocol!r}")
    line = line_of(config, "protocol") if config is not None else None
    raise MarginRankError(message, path=None if line is None else str(config), line=line)


def write_results(study, settings: RunSettings, space: SearchSpace, out: Path) -> None:
    """``summary.json``, ``search.png`` and, once a trial has completed, ``best.toml``; one line each."""
    monitor = settings.recommender.monitor
    summary = summarize(study, monitor)
    atomic_write_text(out / SUMMARY, json.dumps(summary, indent=2) + "\n")
    draw_search(summary, out / FIGURE)
    counts = ", ".join(f"{count} {state}" for state, count in summary["counts"].items() if count)
    print(f"{len(summary['trials'])} trials ({counts}); {out / SUMMARY}, {out / FIGURE}")
    best = best_trial(study)
    if best is None:
        print("no trial completed: no best settings")
        return
    params = space.apply(settings.recommender, best.user_attrs["settings"])
    header = (f"# best of {len(summary['trials'])} trials of marginrank tune: trial {best.number}, "
              f"validation {monitor} {best.value:.4f}\n")
    atomic_write_text(out / BEST, header + dataclasses.replace(settings, recommender=params).to_toml())
    print(f"best: trial {best.number}, validation {monitor} {best.value:.4f}")
    print(f"rerun it on all training pairs and test it: marginrank train --config {out / BEST}")
