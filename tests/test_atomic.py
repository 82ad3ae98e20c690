import errno
import os
import stat

import pytest

from marginrank.atomic import atomic_open, atomic_write_text
from marginrank.errors import MarginRankError


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_written_files_get_the_permissions_open_would_give(tmp_path, umask):
    previous = os.umask(umask)
    try:
        atomic_write_text(tmp_path / "metrics.json", "{}\n")
        reference = tmp_path / "plain.txt"
        reference.write_text("x")
    finally:
        os.umask(previous)
    mode = stat.S_IMODE((tmp_path / "metrics.json").stat().st_mode)
    assert mode == stat.S_IMODE(reference.stat().st_mode) == 0o666 & ~umask


def test_a_failed_write_leaves_the_old_file_and_no_temp_file(tmp_path):
    target = tmp_path / "result.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_open(target) as handle:
        handle.write("half")
        raise RuntimeError("interrupted")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["result.txt"]


def test_a_folder_as_the_target_is_a_clear_error_and_leaves_no_temp_file(tmp_path):
    folder = tmp_path / "models"
    folder.mkdir()
    with pytest.raises(MarginRankError, match=f"^{folder}: is a folder; name a file to write"):
        atomic_write_text(folder, "text")
    assert list(tmp_path.iterdir()) == [folder] and list(folder.iterdir()) == []


def test_a_failed_system_call_names_the_target_not_the_temp_file(tmp_path, monkeypatch):
    target = tmp_path / "metrics.json"
    target.write_text("old")
    monkeypatch.setattr(os, "fsync", lambda fd: (_ for _ in ()).throw(OSError(errno.EDQUOT, os.strerror(errno.EDQUOT))))
    with pytest.raises(MarginRankError) as caught:
        atomic_write_text(target, "new")
    assert str(caught.value).startswith(f"{target}: not written (disk quota exceeded)")
    assert target.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
