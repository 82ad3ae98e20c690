"""``marginrank train``: fit a model, write the run folder, print metrics against popularity."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from marginrank.atomic import atomic_write_text
from marginrank.cli.runs import CONFIG, fresh_run_dir, sizes_line
from marginrank.cli.settings import RunSettings, add_recommender_options, resolve
from marginrank.cli.sources import STDIN, add_source_options, load_source
from marginrank.errors import MarginRankError
from marginrank.recommender import Recommender
from marginrank.training.distributed import leave


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a model (default: MF + MMCL on the built-in synthetic dataset)",
        description="Train an embedding model with a margin or contrastive loss and evaluate it by full ranking. "
        "Settings: defaults < --config TOML < options.",
    )
    add_source_options(parser, default_dataset="synthetic")
    parser.add_argument("--config", type=Path, help="TOML file of settings (keys as the options, with underscores)")
    parser.add_argument("--out", type=Path, help="run folder (default: runs/<dataset>-<loss>)")
    parser.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    parser.add_argument("--quiet", action="store_true", help="no progress bar: one line per epoch only (--no-progress: none)")
    add_recommender_options(parser)
    parser.set_defaults(func=run)


# what a checkpoint fixes: the data and splits it was trained on, the tables' shape, the optimizer and
# the schedule (their states, learning rate included, are restored from it, so a new value would be ignored)
FIXED_ON_RESUME = (
    "dataset", "data", "data_root", "split", "split_seed", "header", "min_rating", "seed", "protocol", "valid_ratio",
    "model", "model_params", "dim", "similarity",
    "optimizer", "sparse", "lr", "lr_schedule", "lr_patience", "lr_factor", "min_lr",
)


def run(args: argparse.Namespace) -> int:
    if args.resume:
        if args.out is None:
            raise MarginRankError("--resume needs --out, the run folder to continue")
        if not (args.out / "last.pt").exists():
            raise MarginRankError("no last.pt here to resume from", path=str(args.out))
        if args.config is None and (args.out / CONFIG).exists():
            args.config = args.out / CONFIG
    if args.quiet:
        args.progress_bar = False
    settings = resolve(args)
    absolute_paths(settings)
    if args.resume and (args.out / CONFIG).exists():
        stored = absolute_paths(resolve(argparse.Namespace(config=args.out / CONFIG)))
        _check_unchanged(settings, stored, args.out / CONFIG)
    distributed = int(os.environ.get("WORLD_SIZE", "1")) > 1
    is_main = int(os.environ.get("RANK", "0")) == 0
    if distributed and args.out is None:
        raise MarginRankError("with torchrun, name the run folder with --out (every process must agree on it)")
    dataset = load_source(settings)
    run_dir = args.out if args.resume else fresh_run_dir(args.out, f"{dataset.name}-{settings.recommender.loss}")
    params = settings.recommender

    def start() -> None:
        """Every check has passed: the settings go into the run folder, and training begins."""
        if is_main:
            atomic_write_text(run_dir / CONFIG, settings.to_toml())
            print(f"training {params.model} ({params.similarity}, dim {params.dim}) with {params.loss} on {dataset.name}: "
                  f"{len(dataset.train):,} pairs, {dataset.n_users:,} users x {dataset.n_items:,} items -> {run_dir}",
                  file=sys.stderr)

    recommender = Recommender(**vars(params)).fit(dataset, run_dir=run_dir, resume=args.resume, on_start=start)
    leave()
    if is_main:
        print_metrics(recommender.metrics_)
        print(sizes_line(run_dir))
    return 0


def absolute_paths(settings: RunSettings) -> RunSettings:
    """Data paths as absolute paths, so that the run folder finds its data from any directory
    (standard input, ``-``, stays itself)."""
    settings.data = settings.data.resolve() if settings.data and settings.data != STDIN else settings.data
    settings.data_root = settings.data_root.resolve() if settings.data_root else None
    return settings


def _check_unchanged(settings: RunSettings, stored: RunSettings, path: Path) -> None:
    """A resumed run may change its length and stopping rules, not what its checkpoint fixes."""
    for key in FIXED_ON_RESUME:
        before, after = (getattr(s, key) if hasattr(s, key) else getattr(s.recommender, key) for s in (stored, settings))
        if before != after:
            before, after = (str(v) if isinstance(v, Path) else v for v in (before, after))
            raise MarginRankError(f"--resume keeps {key} = {before!r} (its checkpoint depends on it); got {after!r}", path=str(path))


def print_metrics(metrics: dict) -> None:
    """A table of the model's test metrics beside the popularity baseline."""
    baseline = metrics.get("popularity", {})
    keys = [key for key in metrics if "@" in key]
    if not keys:
        print("no test split: nothing evaluated")
        return
    print(f"{'metric':<14}{'model':>10}{'popularity':>12}")
    for key in keys:
        print(f"{key:<14}{metrics[key]:>10.4f}{baseline.get(key, float('nan')):>12.4f}")
    epoch, run, stopped = metrics.get("best_epoch"), metrics.get("epochs_run"), metrics.get("stopped")
    if epoch is None:
        print(f"no evaluation during training (protocol {metrics.get('protocol')}): the model after epoch {run} ({stopped})")
        return
    print(f"best epoch {epoch} of {run} ({stopped}), protocol {metrics.get('protocol')}"
          + (" -- OPTIMISTIC: the best epoch was chosen on the test split" if metrics.get("optimistic") else ""))
    if metrics.get("refit"):
        print(f"model: refit on all {metrics['refit']['pairs']:,} training pairs for {metrics['refit']['epochs']} epochs")
