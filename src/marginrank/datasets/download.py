"""Download a file over HTTP(S), verify its checksum, then move it into place atomically."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from marginrank.errors import MarginRankError


def file_digest(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def download_verified(url: str, destination: Path, algorithm: str, expected: str, *, timeout: float = 60.0) -> None:
    """Fetch ``url`` to ``destination``; a wrong checksum is an error and leaves nothing behind."""
    destination.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(dir=destination.parent, prefix=f".{destination.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    shutil.copyfileobj(response, out)
            except (urllib.error.URLError, OSError) as error:
                raise MarginRankError(f"could not download {url}: {error}") from None
        actual = file_digest(Path(temp_name), algorithm)
        if actual != expected:
            raise MarginRankError(
                f"checksum mismatch for {url}: {algorithm} {actual}, expected {expected}; the file was not kept"
            )
        os.replace(temp_name, destination)
    finally:
        if os.path.exists(temp_name):
            os.unlink(temp_name)
