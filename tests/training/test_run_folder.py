import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from marginrank.errors import MarginRankError
from marginrank.training.run_folder import MARKER, claim, file_sizes

SRC = Path(__file__).resolve().parents[2] / "src"
HOLD = "import sys; from marginrank.training.run_folder import claim\nwith claim(sys.argv[1]):\n    print('held', flush=True); sys.stdin.read()"


@pytest.fixture
def held(tmp_path):
    """Another process holding a claim on ``tmp_path / "run"`` until the test ends (or kills it)."""
    folder = tmp_path / "run"
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(folder)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              text=True, env={**os.environ, "PYTHONPATH": str(SRC)})
    assert holder.stdout.readline() == "held\n"
    yield folder, holder
    holder.kill()
    holder.wait()


def test_a_folder_in_use_is_refused_until_its_holder_ends(held):
    folder, holder = held
    with pytest.raises(MarginRankError, match=f"^{folder}: in use by another training \\(process {holder.pid}\\)"):
        with claim(folder):
            pass
    holder.communicate("")
    with claim(folder):
        assert (folder / MARKER).exists()


def test_a_holder_that_dies_releases_the_folder(held):
    folder, holder = held
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with claim(folder):
        pass


def test_a_claim_is_reentrant_within_a_process(tmp_path):
    with claim(tmp_path / "run"), claim(tmp_path / "run"):
        (tmp_path / "run" / "log.jsonl").write_text("{}\n")
    with claim(tmp_path / "run"):
        pass


def test_a_folder_of_other_files_is_refused_and_left_as_it_was(tmp_path):
    (tmp_path / "config.toml").write_text("my own settings\n")
    with pytest.raises(MarginRankError, match=f"^{tmp_path}: holds files and no {MARKER}: not a marginrank run folder"):
        with claim(tmp_path):
            pass
    assert [p.name for p in tmp_path.iterdir()] == ["config.toml"]


def test_a_failure_before_anything_is_written_leaves_no_folder(tmp_path):
    with pytest.raises(MarginRankError, match="bad"), claim(tmp_path / "a" / "run"):
        raise MarginRankError("bad")
    assert not (tmp_path / "a" / "run").exists()
    with pytest.raises(MarginRankError, match="bad"), claim(tmp_path / "kept"):
        (tmp_path / "kept" / "log.jsonl").write_text("{}\n")
        raise MarginRankError("bad")
    assert (tmp_path / "kept" / "log.jsonl").exists()


def test_file_sizes_lists_the_files_largest_first(tmp_path):
    with claim(tmp_path):
        (tmp_path / "small").write_bytes(b"x")
        (tmp_path / "large").write_bytes(b"x" * 10)
        (tmp_path / "export").mkdir()
        (tmp_path / "export" / "user_factors.npy").write_bytes(b"x" * 5)
    assert file_sizes(tmp_path) == {"large": 10, "export/user_factors.npy": 5, "small": 1}
