"""The MMCL paper's open questions, under the validation protocol with refit (the test split is read
once per run, by the refit model).

Three parts, on Yelp2018 and Gowalla, each row run with 3 seeds and reported with its spread:

- ``tuned``: MMCL, CCL and BSL at 100 and 800 negatives, each as the papers' grid settings
  (``benchmarks/configs/<dataset>-<loss>-<n>.toml``) and tuned by ``marginrank.tuning.Search`` on
  the validation split with the same trial budget for every loss (the spaces of
  ``examples/spaces/<loss>.toml``, the number of negatives held at the row's);
- ``mining``: MMCL with hard, semi-hard and mixed mining against uniform negatives, at 10, 100 and
  800 candidates (a miner keeps a tenth of them, at least 2);
- ``sparsity``: MMCL, CCL and BSL at 800 negatives on the same users with 25%, 50% and 100% of each
  user's training pairs kept (at least one each; the test split unchanged).

A difference is called only where the [min, max] ranges over the seeds do not overlap.
``--quick`` runs every part on the built-in synthetic dataset (the Yelp2018 settings, 3 epochs,
4 trials) in a few minutes. Results go to ``benchmarks/results/study[_quick].json`` and ``.md``,
written after every row; rows already there for the same seeds and epoch cap are kept (tuned rows
for the same ``--trials``), so an interrupted study continues (searches resume from their
``study.db`` under ``--work``) and studies of other parts or datasets can run side by side.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

import optuna
import reproduce  # beside this script
from marginrank import Recommender, datasets
from marginrank.atomic import atomic_write_text
from marginrank.data import Dataset, holdout_split
from marginrank.recommender import RecommenderParams
from marginrank.tuning import Search, SearchSpace, best_trial

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
SPACES = REPO / "examples" / "spaces"
PARTS = ("tuned", "mining", "sparsity")
LOSSES = ("mmcl", "ccl", "bsl")
MINERS = ("hard", "semi-hard", "mixed")
KEEP = (0.25, 0.5, 1.0)
METRICS = ("recall@20", "ndcg@20")


def miner_params(miner: str, candidates: int) -> dict[str, int]:
    """A tenth of the candidates (at least 2) for the loss; mixed: half hard, half uniform."""
    picked = max(2, candidates // 10)
    return {"hard": {"k": picked}, "semi-hard": {"num_negatives": picked},
            "mixed": {"n_hard": picked // 2, "n_uniform": picked - picked // 2}}[miner]


def rows(part: str) -> list[dict[str, Any]]:
    """The rows of a part: a name, the grid config it starts from, its changes, whether it is tuned."""
    if part == "tuned":
        return [{"row": f"{loss.upper()}-{n} {kind}", "config": f"{loss}-{n}", "tuned": kind == "tuned", "changes": {}}
                for n in (100, 800) for loss in LOSSES for kind in ("grid", "tuned")]
    if part == "mining":
        return [{"row": f"MMCL-{n} {miner or 'uniform'}", "config": f"mmcl-{n}", "tuned": False,
                 "changes": {} if miner is None else {"miner": miner, "miner_params": miner_params(miner, n)}}
                for n in (10, 100, 800) for miner in (None, *MINERS)]
    return [{"row": f"{loss.upper()}-800 keep {keep:.0%}", "config": f"{loss}-800", "tuned": False, "changes": {}, "keep": keep}
            for keep in KEEP for loss in LOSSES]


def signature(spec: dict[str, Any]) -> str | None:
    """What a row's runs depend on besides the dataset: its config, changes and kept share; None if tuned."""
    if spec["tuned"]:
        return None
    return json.dumps({"config": spec["config"], "changes": spec["changes"], "keep": spec.get("keep", 1.0)}, sort_keys=True)


SIGNATURES = {(part, spec["row"]): signature(spec) for part in PARTS for spec in rows(part)}


def measured_before(spec: dict[str, Any], part: str, dataset: str, results: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The same runs under another part's name (the MMCL-100 grid row is the mining part's uniform row),
    taken over instead of run again."""
    wanted = signature(spec)
    if wanted is None:
        return None
    for r in results:
        elsewhere = (r["part"], r["row"]) != (part, spec["row"])
        if elsewhere and r["dataset"] == dataset and SIGNATURES.get((r["part"], r["row"])) == wanted:
            return {**r, "part": part, "row": spec["row"], "same_as": r.get("same_as", f"{r['part']} / {r['row']}")}
    return None


def references(part: str, row: str) -> list[str]:
    """The rows a row is compared with: its grid row and, for CCL and BSL, tuned MMCL (tuned); uniform
    negatives (mining); MMCL (sparsity)."""
    if part == "tuned" and row.endswith(" tuned"):
        return [row.replace(" tuned", " grid")] + ([] if row.startswith("MMCL") else ["MMCL" + row[row.index("-"):]])
    if part == "mining" and not row.endswith(" uniform"):
        return [row.rsplit(" ", 1)[0] + " uniform"]
    if part == "sparsity" and not row.startswith("MMCL"):
        return ["MMCL" + row[row.index("-"):]]
    return []


def kept(data: Dataset, keep: float) -> Dataset:
    """Each user's training pairs thinned to ``keep`` of them (at least one; seed 0), test unchanged."""
    if keep >= 1.0:
        return data
    thinned, _ = holdout_split(data.train, 1.0 - keep, seed=0)
    return Dataset(f"{data.name}-keep{keep:g}", thinned, data.test)


def settings(dataset: str, config: str, args: argparse.Namespace) -> dict[str, Any]:
    """The grid row's settings (its config file; under ``--quick`` the Yelp2018 one), the epochs capped."""
    _, table = reproduce.recommender_settings(f"{'yelp2018' if args.quick else dataset}-{config}")
    if args.max_epochs:
        table["epochs"] = min(table["epochs"], args.max_epochs)
    table.update(protocol="validation", progress=False, progress_bar=False)
    return table


def space(loss: str) -> SearchSpace:
    """The example space of ``loss``, the number of negatives left to the row."""
    table = tomllib.loads((SPACES / f"{loss}.toml").read_text())
    table.pop("negatives", None)
    return SearchSpace.from_table(table)


def tune(data: Dataset, table: dict[str, Any], loss: str, folder: Path, trials: int) -> dict[str, Any]:
    start = time.perf_counter()
    searched = space(loss)
    base = RecommenderParams(**{**table, "refit": False})
    study = Search(data.train, base, searched, folder, startup_trials=min(10, max(1, trials // 2)),
                   report=lambda line: print("  " + line, file=sys.stderr, flush=True)).run(trials)
    best = best_trial(study)
    applied = searched.apply(base, best.user_attrs["settings"])
    changed = {key: getattr(applied, key) for key in best.user_attrs["settings"]}
    return {"budget": trials, "trials": len(study.trials), "validation": best.value, "settings": changed, "seconds": time.perf_counter() - start}


def measure(part: str, spec: dict[str, Any], dataset: str, data: Dataset, args: argparse.Namespace) -> dict[str, Any]:
    table = {**settings(dataset, spec["config"], args), **spec["changes"]}
    data = kept(data, spec.get("keep", 1.0))
    result: dict[str, Any] = {"part": part, "dataset": dataset, "row": spec["row"], "pairs": len(data.train),
                              "epochs_cap": table["epochs"], "tuning": None}
    if spec["tuned"]:
        folder = args.work / f"{dataset}-{spec['row'].replace(' ', '-')}"
        result["tuning"] = tune(data, table, table["loss"], folder, args.trials)
        table.update(result["tuning"]["settings"])
    runs = []
    for seed in range(args.seeds):
        start = time.perf_counter()
        rec = Recommender(**{**table, "seed": seed, "refit": True}).fit(data)
        runs.append({"seed": seed, "seconds": time.perf_counter() - start, "best_epoch": rec.metrics_["best_epoch"],
                     **{key: rec.metrics_[key] for key in METRICS}})
    result["runs"] = runs
    return result


def spread(values: list[float]) -> tuple[float, float, float]:
    return sum(values) / len(values), min(values), max(values)


def verdict(row: dict[str, Any], other: dict[str, Any], metric: str = "recall@20") -> str:
    a, b = ([run[metric] for run in r["runs"]] for r in (row, other))
    if min(a) > max(b):
        return "higher, beyond the spread"
    if max(a) < min(b):
        return "lower, beyond the spread"
    return "within the spread"


def markdown(results: list[dict[str, Any]], args: argparse.Namespace) -> str:
    names = ", ".join(dict.fromkeys(r["dataset"] for r in results))
    lines = [f"# Study results: {names}{' (--quick)' if args.quick else ''}", "",
             f"Seeds per row: {args.seeds}; epochs capped at "
             f"{args.max_epochs or 'the config value'}. Test metrics of the refit model, mean (min-max over seeds); "
             "s per run: one seed's fit (selection, refit, test), the search not included.", ""]
    by_key = {(r["part"], r["dataset"], r["row"]): r for r in results}
    for part in PARTS:
        order = {spec["row"]: i for i, spec in enumerate(rows(part))}
        for dataset in dict.fromkeys(r["dataset"] for r in results if r["part"] == part):
            lines += [f"## {part}: {dataset}", "",
                      "| row | Recall@20 | NDCG@20 | s per run | tuning | vs |", "|---|---|---|---|---|---|"]
            for r in sorted((r for r in results if r["part"] == part and r["dataset"] == dataset), key=lambda r: order[r["row"]]):
                cells = []
                for metric in METRICS:
                    mean, low, high = spread([run[metric] for run in r["runs"]])
                    cells.append(f"{mean:.4f} ({low:.4f}-{high:.4f})")
                seconds = spread([run["seconds"] for run in r["runs"]])[0]
                tuning = "" if r["tuning"] is None else (f"{r['tuning']['trials']} trials, {r['tuning']['seconds']:.0f} s, "
                                                         f"valid {r['tuning']['validation']:.4f}")
                compared = (by_key.get((part, dataset, name)) for name in references(part, r["row"]))
                versus = "; ".join(f"{verdict(r, other)} of {other['row']}" for other in compared if other is not None)
                name = r["row"] + (f" (the runs of {r['same_as']})" if "same_as" in r else "")
                lines.append(f"| {name} | {cells[0]} | {cells[1]} | {seconds:.1f} | {tuning} | {versus} |")
            lines.append("")
    return "\n".join(lines)


def row_key(row: dict[str, Any]) -> tuple[str, str, str]:
    return row["part"], row["dataset"], row["row"]


def stored_rows(out: Path, identity: dict[str, Any]) -> list[dict[str, Any]]:
    """The rows ``out`` holds for the same seeds, epoch cap and data; none if it was written for others."""
    stored = json.loads(out.read_text()) if out.exists() else {}
    return stored["rows"] if stored.get("args") == identity else []


def record(out: Path, identity: dict[str, Any], row: dict[str, Any], args: argparse.Namespace) -> list[dict[str, Any]]:
    """Add ``row`` to ``out`` (replacing an older run of it) and rewrite its markdown, under a lock, so
    that studies running side by side (other parts or datasets) keep each other's rows."""
    with open(out.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        results = [r for r in stored_rows(out, identity) if row_key(r) != row_key(row)] + [row]
        atomic_write_text(out, json.dumps({"args": identity, "rows": results}, indent=1) + "\n")
        atomic_write_text(out.with_suffix(".md"), markdown(results, args) + "\n")
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--datasets", nargs="+", choices=("yelp2018", "gowalla"), default=["yelp2018", "gowalla"])
    parser.add_argument("--rows", nargs="+", default=None, help="run only the rows whose name contains one of these, e.g. CCL-800")
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--trials", type=int, default=20, help="trials per search, the same for every loss")
    parser.add_argument("--max-epochs", type=int, default=None, help="cap every run's epochs (a reduced study)")
    parser.add_argument("--quick", action="store_true", help="synthetic data, 3 epochs, 4 trials: minutes")
    parser.add_argument("--work", type=Path, default=Path("runs/study"), help="where the searches keep their studies")
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default: benchmarks/results/study[_quick].json)")
    parser.add_argument("--render-only", action="store_true", help="rewrite the markdown of the results JSON (as it was run) and print it")
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # one line per trial comes from the search
    if args.quick:
        args.datasets, args.max_epochs, args.trials = ["synthetic"], args.max_epochs or 3, min(args.trials, 4)
        args.work = args.work.with_name(args.work.name + "-quick")
    out = args.out or RESULTS / f"study{'_quick' if args.quick else ''}.json"
    if args.render_only:
        stored = json.loads(out.read_text())
        vars(args).update(stored["args"])
        table = markdown(stored["rows"], args)
        atomic_write_text(out.with_suffix(".md"), table + "\n")
        print(table)
        return 0
    identity = {key: getattr(args, key) for key in ("seeds", "max_epochs", "quick")}
    for dataset in args.datasets:
        if dataset == "synthetic":
            data = datasets.load("synthetic")
        elif (reproduce.SHARED / dataset / "train.txt").exists():
            data = datasets.load(dataset, root=reproduce.SHARED, download=False)
        else:
            print(f"skipped {dataset}: no split under {reproduce.SHARED} (set MARGINRANK_SHARED_DATA)")
            continue
        for part in args.parts:
            for spec in rows(part):
                if args.rows is not None and not any(text in spec["row"] for text in args.rows):
                    continue
                results = stored_rows(out, identity)  # rows finished meanwhile by a study running beside this one count
                done = {row_key(r) for r in results if r["tuning"] is None or r["tuning"]["budget"] == args.trials}
                if (part, dataset, spec["row"]) in done:
                    continue
                print(f"{part} / {dataset} / {spec['row']}", file=sys.stderr, flush=True)
                row = measured_before(spec, part, dataset, results) or measure(part, spec, dataset, data, args)
                record(out, identity, row, args)
    print(markdown(stored_rows(out, identity), args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
