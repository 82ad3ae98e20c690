"""The default job (``marginrank train --quiet``) with glibc's allocator tuned and left alone.

Run ``.venv/bin/python benchmarks/allocator.py``. Each run is a fresh ``python -m marginrank train
--quiet --out <tmp>``; the untouched runs set ``MARGINRANK_KEEP_MALLOC=1``. The two setups alternate,
so a slow spell of a shared machine hits both alike. Wall seconds come from the clock, user and
system CPU seconds from ``getrusage(RUSAGE_CHILDREN)`` before and after each run. Prints a table and
writes JSON (default benchmarks/results/allocator.json).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from importlib.metadata import version
from pathlib import Path

from marginrank.atomic import atomic_write_text

REPO = Path(__file__).resolve().parents[1]
SETUPS = {"tuned": None, "untouched": "1"}  # setup -> MARGINRANK_KEEP_MALLOC


def timed_run(command: list[str], keep_malloc: str | None) -> dict[str, float]:
    """One run of ``command``: wall, user and system seconds; raises if it fails."""
    env = {key: value for key, value in os.environ.items() if key != "MARGINRANK_KEEP_MALLOC"}
    if keep_malloc is not None:
        env["MARGINRANK_KEEP_MALLOC"] = keep_malloc
    with tempfile.TemporaryDirectory() as folder:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run([*command, "--out", str(Path(folder) / "run")], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return {"wall_s": wall, "user_s": after.ru_utime - before.ru_utime, "system_s": after.ru_stime - before.ru_stime}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=2, help="runs of each setup")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "allocator.json")
    args = parser.parse_args()
    command = [sys.executable, "-m", "marginrank", "train", "--quiet"]
    runs = []
    for repeat in range(args.repeats):
        for setup, keep_malloc in SETUPS.items():
            runs.append({"setup": setup, "repeat": repeat, **timed_run(command, keep_malloc)})
            print(f"{setup} run {repeat + 1}: {runs[-1]['wall_s']:.1f} s", file=sys.stderr)
    summary = {
        setup: {key: statistics.mean(run[key] for run in runs if run["setup"] == setup)
                for key in ("wall_s", "user_s", "system_s")}
        for setup in SETUPS
    }
    print(f"Default job ({' '.join(command[1:])}), {os.cpu_count()} CPUs, mean of {args.repeats} alternating runs "
          "(timings on a shared machine are noisy)")
    print("| allocator | wall s | user s | system s | runs (wall s) |")
    print("|---|---|---|---|---|")
    for setup, mean in summary.items():
        walls = ", ".join(f"{run['wall_s']:.1f}" for run in runs if run["setup"] == setup)
        print(f"| {setup} | {mean['wall_s']:.1f} | {mean['user_s']:.1f} | {mean['system_s']:.1f} | {walls} |")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "allocator", "command": command[1:], "repeats": args.repeats, "runs": runs, "mean": summary,
              "cpus": os.cpu_count(), "libc": " ".join(platform.libc_ver()), "python": sys.version.split()[0],
              "torch": version("torch"), "machine": platform.machine()}
    atomic_write_text(args.out, json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
