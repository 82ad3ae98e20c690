"""Throwaway virtual environments for the peers a benchmark measures against (RecBole, implicit):
never marginrank's dependencies, installed under ``benchmarks/out`` and reused once complete."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

TORCH_PIN = "torch==2.13.0"  # the CPU wheel on local disk; a looser request would pull a CUDA build


def python_of(venv: Path) -> Path:
    return venv / "bin" / "python"


def tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _pip(venv: Path, *requirements: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(python_of(venv)), "-m", "pip", "install", "--quiet", *requirements],
                          capture_output=True, text=True)


def installed_versions(venv: Path, packages: Sequence[str]) -> dict:
    """Versions of ``packages`` inside ``venv`` (importlib.metadata, nothing imported)."""
    code = ("import json, importlib.metadata as m\n"
            f"names = {list(packages)!r}\n"
            "print(json.dumps({n: m.version(n) for n in names}))")
    done = subprocess.run([str(python_of(venv)), "-c", code], capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(tail(done.stderr))
    return json.loads(done.stdout)


def ensure_venv(venv: Path, pins: Sequence[str], check_import: str, reported: Sequence[str]) -> dict:
    """Create ``venv`` with ``pins`` installed (a torch pin first, alone, when there is one) unless a
    previous run completed it with the same pins; ``check_import`` is Python code that must run there.

    Returns ``{"ok", "reused", "install_s", "versions"}``; on failure ``ok`` is False and ``step`` /
    ``error`` say which command failed and how (pip's last lines).
    """
    marker = venv / "marginrank-peer-complete.json"
    pins = list(pins)
    if marker.exists() and (built := json.loads(marker.read_text())).get("pins") == pins:
        return {"ok": True, "reused": True, "install_s": 0.0, "built_in_s": built.get("install_s"),
                "versions": installed_versions(venv, reported)}
    start = time.perf_counter()
    steps = [("python -m venv", lambda: subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)],
                                                       capture_output=True, text=True))]
    torch = [pin for pin in pins if pin.startswith("torch==")]
    if torch:  # alone first, then again with the rest, so that the resolver cannot swap it for another build
        steps.append((f"pip install {torch[0]}", lambda: _pip(venv, torch[0])))
    steps += [
        (f"pip install {' '.join(pins)}", lambda: _pip(venv, *pins)),
        ("import check", lambda: subprocess.run([str(python_of(venv)), "-c", check_import], capture_output=True, text=True)),
    ]
    for step, command in steps:
        print(f"[peer] {step} ...", flush=True)
        done = command()
        if done.returncode != 0:
            return {"ok": False, "reused": False, "install_s": time.perf_counter() - start, "step": step,
                    "error": tail(done.stderr or done.stdout)}
    versions = installed_versions(venv, reported)
    install_s = time.perf_counter() - start
    marker.write_text(json.dumps({"pins": pins, "versions": versions, "install_s": install_s}))
    return {"ok": True, "reused": False, "install_s": install_s, "versions": versions}
