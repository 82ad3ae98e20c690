"""Shared fixtures: where the real LightGCN splits live (../shared/data beside the repo), one torch thread."""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("MARGINRANK_SHARED_DATA", REPO.parent / "shared" / "data"))


def shared_split(name: str) -> Path:
    """Folder of a real split, or skip the test with the reason."""
    folder = SHARED_DATA / name
    if not (folder / "train.txt").exists():
        pytest.skip(f"real data {folder} is absent (set MARGINRANK_SHARED_DATA to a folder with {name}/train.txt)")
    return folder


def benchmark_script(name: str) -> ModuleType:
    """``benchmarks/<name>.py`` imported as a module (with ``benchmarks/`` on the path, where its
    helpers such as ``peer_env.py`` live)."""
    folder = REPO / "benchmarks"
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))
    spec = importlib.util.spec_from_file_location(name, folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def gowalla_dir() -> Path:
    return shared_split("gowalla")


@pytest.fixture
def yelp_dir() -> Path:
    return shared_split("yelp2018")


@pytest.fixture
def one_thread():
    """Many small ops: one thread is much faster on a shared 2-core machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
