"""The allocator is process-wide: ``import marginrank`` leaves it alone, the command line opts in."""

import os
import platform
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt tuning applies only on glibc")


def python_lines(code: str, keep_malloc: bool = False) -> list[str]:
    """Run ``code`` in a fresh interpreter; its stdout lines."""
    env = {key: value for key, value in os.environ.items() if key != "MARGINRANK_KEEP_MALLOC"}
    if keep_malloc:
        env["MARGINRANK_KEEP_MALLOC"] = "1"
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300, check=True)
    return result.stdout.splitlines()


def test_import_leaves_the_allocator_alone():
    code = (
        "import marginrank, marginrank.cli.main\n"
        "from marginrank import allocator\n"
        "print(allocator.applied)\n"
        "print(allocator.tune_allocator(), allocator.applied)\n"
    )
    assert python_lines(code) == ["False", "True True"]


@pytest.mark.parametrize(("keep_malloc", "expected"), [(False, "True"), (True, "False")])
def test_command_line_tunes_before_a_sub_command(tmp_path, keep_malloc, expected):
    (tmp_path / "train.txt").write_text("0 1 2\n1 2\n")
    (tmp_path / "test.txt").write_text("0 0\n1 0\n")
    code = (
        "from marginrank import allocator\n"
        "from marginrank.cli.main import main\n"
        "print(allocator.applied)\n"
        f"status = main(['inspect', '--json', '--data', {str(tmp_path)!r}])\n"
        "print(status, allocator.applied)\n"
    )
    lines = python_lines(code, keep_malloc)
    assert lines[0] == "False" and lines[-1] == f"0 {expected}"
