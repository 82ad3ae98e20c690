"""Learning to rank on the lambdarank sample: marginrank's ``Ranker`` against LightGBM lambdarank.

Data: ``../shared/data/lambdarank-sample`` (LightGBM's ``examples/lambdarank``: 201 training and 50
test queries, 300 features, labels 0-4), read by marginrank's SVMlight reader for both methods.

- **Split**: train on ``rank.train``, report on ``rank.test``: marginrank with its defaults over
  ``SEEDS`` seeds (and one scorer alone, ``n_models=1``), LightGBM lambdarank with the settings of
  the sample's SOURCE.md (100 trees, lr 0.1, 31 leaves, min_data_in_leaf 50, seed 0), random order.
- **Cross-validation**: the 251 queries of both files, ``FOLDS`` folds (every query tested once),
  the same folds for every method; mean and standard deviation over the folds.

Every metric is marginrank's (NDCG@k with gain ``2^rel - 1``, log2 discount, queries without a
relevant row skipped: the definition of SOURCE.md). LightGBM is not a dependency: it is installed
into ``benchmarks/out/lightgbm-venv`` (reused once complete) and run there in a subprocess on the
same arrays, with 2 threads. Fit seconds are wall time on this machine, one job after the other.

Run: ``PYTHONPATH=src python benchmarks/ltr.py`` (about 3 minutes on 2 cores). Writes
``benchmarks/results/ltr.{json,md}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from peer_env import ensure_venv, python_of, tail  # benchmarks/peer_env.py, beside this script

REPO = Path(__file__).resolve().parents[1]
SAMPLE = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data")) / "lambdarank-sample"
VENV = REPO / "benchmarks" / "out" / "lightgbm-venv"
RESULTS = REPO / "benchmarks" / "results"
PINS = ("lightgbm==4.6.0", "numpy", "scipy")
LIGHTGBM = {"objective": "lambdarank", "num_iterations": 100, "learning_rate": 0.1, "num_leaves": 31,
            "min_data_in_leaf": 50, "seed": 0, "num_threads": 2, "verbose": -1}
SEEDS = (0, 1, 2)
FOLDS = 5
KS = (1, 3, 5, 10)
SHOWN = tuple(f"ndcg@{k}" for k in KS)
PUBLISHED = {"ndcg@1": 0.6230, "ndcg@3": 0.6525, "ndcg@5": 0.6933, "ndcg@10": 0.7526}  # SOURCE.md, LightGBM lambdarank
TARGETS = {"ndcg@10": 0.98 * PUBLISHED["ndcg@10"], "ndcg@5": PUBLISHED["ndcg@5"]}


# ---- inside the throwaway environment (imports lightgbm; never marginrank) --------------------------------


def lightgbm_fits(folder: Path) -> None:
    """For every ``job-*.npz`` in ``folder``: train on its train arrays, write scores of its test rows."""
    import lightgbm

    for job in sorted(folder.glob("job-*.npz")):
        arrays = np.load(job)
        start = time.perf_counter()
        train = lightgbm.Dataset(arrays["train_x"], arrays["train_y"], group=arrays["train_group"])
        booster = lightgbm.train(LIGHTGBM, train)
        seconds = time.perf_counter() - start
        np.save(job.with_suffix(".scores.npy"), booster.predict(arrays["test_x"], num_threads=2))
        job.with_suffix(".json").write_text(json.dumps({"fit_s": seconds}))


# ---- here ------------------------------------------------------------------------------------------------


def run_lightgbm(jobs: dict[str, tuple]) -> dict:
    """``{name: (train, test)}`` -> ``{"install": ..., name: {"scores", "fit_s"}}`` (or the install's failure)."""
    install = ensure_venv(VENV, PINS, "import lightgbm", ("lightgbm", "numpy"))
    if not install["ok"]:
        return {"install": install}
    out: dict = {"install": install}
    with tempfile.TemporaryDirectory() as folder:
        paths = {}
        for number, (name, (train, test)) in enumerate(jobs.items()):
            paths[name] = Path(folder) / f"job-{number:03d}.npz"
            np.savez(paths[name], train_x=train.features.numpy(), train_y=train.labels.numpy(), train_group=train.sizes,
                     test_x=test.features.numpy())
        done = subprocess.run([str(python_of(VENV)), str(Path(__file__).resolve()), "--inside", folder],
                              capture_output=True, text=True)
        if done.returncode != 0:
            return {"install": install, "error": tail(done.stderr)}
        for name, path in paths.items():
            out[name] = {"scores": np.load(path.with_suffix(".scores.npy")),
                         "fit_s": json.loads(path.with_suffix(".json").read_text())["fit_s"]}
    return out


def fit_marginrank(train, test, **settings) -> dict:
    from marginrank import Ranker

    start = time.perf_counter()
    ranker = Ranker(**settings).fit(train)
    return {"scores": ranker.predict(test), "fit_s": time.perf_counter() - start,
            "best_epochs": [member["best_epoch"] for member in ranker.members_]}


def metrics_of(scores, test) -> dict:
    from marginrank.metrics.groups import group_metrics

    return group_metrics(scores, test, KS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inside", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside is not None:
        lightgbm_fits(args.inside)
        return
    import warnings

    from marginrank.data.groups import RankingGroups
    from marginrank.data.ranking_readers import read_svmlight

    warnings.simplefilter("ignore")  # collapse warnings of single scorers are in their records
    if not (SAMPLE / "rank.train").exists():
        sys.exit(f"the lambdarank sample is absent: {SAMPLE} (set MARGINRANK_SHARED_DATA)")
    train = read_svmlight(SAMPLE / "rank.train")
    test = read_svmlight(SAMPLE / "rank.test", n_features=train.n_features)
    everything = RankingGroups.from_arrays(torch_cat(train.features, test.features), torch_cat(train.labels, test.labels),
                                           np.concatenate([train.sizes, test.sizes]), source="rank.train + rank.test")
    folds = everything.folds(FOLDS, seed=0)
    peer = run_lightgbm({"split": (train, test), **{f"fold-{i}": fold for i, fold in enumerate(folds)}})
    random_scores = np.random.default_rng(0).normal(size=test.labels.shape[0])

    split: dict[str, dict] = {"random order": {"metrics": metrics_of(random_scores, test)}}
    if "split" in peer:
        split["LightGBM lambdarank"] = {"metrics": metrics_of(peer["split"]["scores"], test), "fit_s": peer["split"]["fit_s"]}
    for name, settings in (("marginrank defaults", {}), ("marginrank, one scorer", {"n_models": 1})):
        runs = [fit_marginrank(train, test, seed=seed, **settings) for seed in SEEDS]
        per_seed = [metrics_of(run["scores"], test) for run in runs]
        split[name] = {"metrics": {key: float(np.mean([m[key] for m in per_seed])) for key in per_seed[0]},
                       "min": {key: float(np.min([m[key] for m in per_seed])) for key in per_seed[0]},
                       "per_seed": per_seed, "fit_s": float(np.mean([run["fit_s"] for run in runs])),
                       "best_epochs": [run["best_epochs"] for run in runs]}
        print(f"{name}: {split[name]['metrics']['ndcg@10']:.4f} NDCG@10", flush=True)

    cv: dict[str, dict] = {}
    methods = {"marginrank defaults": lambda a, b: fit_marginrank(a, b)}
    per_fold: dict[str, list] = {name: [] for name in methods}
    for i, (a, b) in enumerate(folds):
        for name, fit in methods.items():
            run = fit(a, b)
            per_fold[name].append({**metrics_of(run["scores"], b), "fit_s": run["fit_s"]})
        if f"fold-{i}" in peer:
            per_fold.setdefault("LightGBM lambdarank", []).append({**metrics_of(peer[f"fold-{i}"]["scores"], b),
                                                                   "fit_s": peer[f"fold-{i}"]["fit_s"]})
    for name, rows in per_fold.items():
        cv[name] = {key: {"mean": float(np.mean([r[key] for r in rows])), "std": float(np.std([r[key] for r in rows]))}
                    for key in rows[0]}
        cv[name]["folds"] = rows

    result = {"split": split, "cv": cv, "lightgbm": {k: v for k, v in peer["install"].items()} | (
        {"error": peer["error"]} if "error" in peer else {}), "lightgbm_settings": LIGHTGBM, "published": PUBLISHED,
        "targets": TARGETS, "seeds": SEEDS, "folds": FOLDS}
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "ltr.json").write_text(json.dumps(result, indent=2, default=float) + "\n")
    text = markdown(result)
    (RESULTS / "ltr.md").write_text(text)
    print(text)


def torch_cat(a, b):
    import torch

    return torch.cat([a, b])


def markdown(result: dict) -> str:
    lines = ["# Learning to rank on the lambdarank sample", "",
             f"Train on rank.train (201 queries), report on rank.test (50 queries). marginrank: mean over seeds {result['seeds']} "
             "(worst seed in brackets); LightGBM: SOURCE.md's settings, seed 0.", "",
             "| method | " + " | ".join(f"NDCG@{k}" for k in KS) + " | fit s |", "|---" * (len(KS) + 2) + "|"]
    for name, row in result["split"].items():
        cells = [f"{row['metrics'][key]:.4f}" + (f" ({row['min'][key]:.4f})" if "min" in row else "") for key in SHOWN]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['fit_s']:.1f} |" if "fit_s" in row else
                     f"| {name} | " + " | ".join(cells) + " | - |")
    lines.append("| LightGBM lambdarank, SOURCE.md | " + " | ".join(f"{result['published'][key]:.4f}" for key in SHOWN) + " | 0.2 |")
    ours = result["split"]["marginrank defaults"]["metrics"]
    lines += ["", "Targets: " + "; ".join(
        f"{key} >= {value:.4f}: {ours[key]:.4f} ({'met' if ours[key] >= value else 'missed'})" for key, value in result["targets"].items()), ""]
    lines += [f"## {result['folds']}-fold cross-validation over the 251 queries (the same folds for both)", "",
              "| method | " + " | ".join(f"NDCG@{k}" for k in KS) + " | fit s |", "|---" * (len(KS) + 2) + "|"]
    for name, row in result["cv"].items():
        cells = [f"{row[key]['mean']:.4f} ± {row[key]['std']:.4f}" for key in SHOWN]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {row['fit_s']['mean']:.1f} |")
    if "error" in result["lightgbm"] or not result["lightgbm"].get("ok", False):
        lines += ["", f"LightGBM could not be run: {result['lightgbm'].get('error') or result['lightgbm'].get('step')}"]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
