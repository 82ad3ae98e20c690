import errno
import os
import pickle
import warnings

import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.training import checkpoint
from marginrank.training.checkpoint import load_checkpoint, save_checkpoint

NO_SPACE = os.strerror(errno.ENOSPC)


def half_written_then(error):
    """A ``torch.save`` that writes part of the file, then fails as a full disk makes it fail."""

    def save(state, handle):
        handle.write(b"PK\x03\x04 partial")
        raise error

    return save


@pytest.mark.parametrize(
    "error",
    [
        OSError(errno.ENOSPC, NO_SPACE),
        RuntimeError(f"[enforce fail at inline_container.cc:664] . unexpected pos 64 vs 0: {NO_SPACE}"),
    ],
)
def test_a_full_disk_names_the_file_and_keeps_the_previous_one(tmp_path, monkeypatch, error):
    path = tmp_path / "last.pt"
    save_checkpoint({"format": "x", "weights": torch.arange(3.0)}, path)
    before = path.read_bytes()
    monkeypatch.setattr(checkpoint.torch, "save", half_written_then(error))
    with pytest.raises(MarginRankError) as caught:
        save_checkpoint({"format": "x", "weights": torch.arange(4.0)}, path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and "no space left on device" in message and "\n" not in message
    assert path.read_bytes() == before and [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_another_runtime_error_of_torch_is_not_taken_for_a_full_disk(tmp_path, monkeypatch):
    monkeypatch.setattr(checkpoint.torch, "save", half_written_then(RuntimeError("a bug")))
    with pytest.raises(RuntimeError, match="a bug"):
        save_checkpoint({"format": "x"}, tmp_path / "last.pt")
    assert list(tmp_path.iterdir()) == []


class Payload:
    """A pickle that would make a folder if it were ever unpickled with code execution."""

    def __init__(self, target):
        self.target = target

    def __reduce__(self):
        return os.mkdir, (str(self.target),)


@pytest.mark.parametrize("kind", ["torch", "pickle", "truncated", "text"])
def test_a_foreign_or_hostile_file_is_one_line_that_never_advises_unsafe_loading(tmp_path, kind):
    path, target = tmp_path / "model.pt", tmp_path / "made-by-the-payload"
    if kind == "torch":
        torch.save({"format": Payload(target)}, path)
    elif kind == "pickle":
        path.write_bytes(pickle.dumps({"format": Payload(target)}))
    elif kind == "truncated":
        save_checkpoint({"format": "x", "weights": torch.zeros(100)}, path)
        path.write_bytes(path.read_bytes()[:200])
    else:
        path.write_text("hello\n")
    with warnings.catch_warnings(), pytest.raises(MarginRankError) as caught:
        warnings.simplefilter("error")  # nothing but the one line: no warning of torch's either
        load_checkpoint(path)
    message = str(caught.value)
    assert message == f"{path}: not a marginrank model or checkpoint (it cannot be read as one)"
    assert not target.exists()
