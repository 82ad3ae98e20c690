"""Keep glibc from returning large blocks to the system after every tensor.

By default glibc serves allocations above 128 KiB-32 MiB with ``mmap`` and unmaps them on free, so
a training loop that makes a few-MiB tensor per operation can pay a page fault per 4 KiB page,
every step. Raising the mmap and trim thresholds (``mallopt``) lets freed blocks be reused; memory
peaks are unchanged. The current default job does not need it (``benchmarks/allocator.py``: under
1 s of system time either way). The allocator is process-wide, so importing the library leaves it
alone: the ``marginrank`` command opts in before it runs a sub-command, and a library user may call
:func:`tune_allocator` themselves. It applies only on glibc, and not when
``MARGINRANK_KEEP_MALLOC=1`` is set.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
_MMAP_THRESHOLD = 32 * 1024 * 1024  # the largest value glibc accepts on 64-bit
_TRIM_THRESHOLD = 1 << 30

applied = False
"""Whether :func:`tune_allocator` has raised the thresholds in this process."""


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds; returns whether it was applied (and records it in ``applied``)."""
    global applied
    if os.environ.get("MARGINRANK_KEEP_MALLOC") == "1":
        return False
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):  # not glibc (e.g. musl, macOS)
        return False
    done = bool(mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD)) and bool(mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD))
    applied = applied or done
    return done
