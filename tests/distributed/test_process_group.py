"""The one-process side of the process group: choices, GPU placement errors, failure messages."""

from __future__ import annotations

import pytest
import torch

from marginrank.errors import MarginRankError
from marginrank.models import MF
from marginrank.training.distributed import DataParallel, ProcessGroup, failure_message, from_environment, rank_label


def test_one_process_needs_no_group_and_no_exchange(monkeypatch):
    monkeypatch.delenv("WORLD_SIZE", raising=False)
    process = from_environment()
    assert process == ProcessGroup() and not process.active and process.is_main
    model = MF(5, 6, 4)
    sync = process.gradient_sync(model, "rows")
    assert sync.module is model and sync.synchronize() == 0
    assert rank_label() is None


def test_an_unknown_gradient_sync_is_refused():
    with pytest.raises(MarginRankError, match="grad_sync must be one of rows, dense, ddp"):
        ProcessGroup().gradient_sync(MF(5, 6, 4), "allreduce")


def test_ddp_refuses_sparse_embeddings():
    with pytest.raises(MarginRankError, match="use 'rows'"):
        DataParallel(MF(5, 6, 4, sparse=True), ProcessGroup(0, 2))


def test_shares_cover_every_user_once():
    shares = [ProcessGroup(rank, 3).share(torch.arange(10).numpy()) for rank in range(3)]
    assert sorted(int(u) for share in shares for u in share) == list(range(10))


@pytest.mark.parametrize(("device", "message"), [("cuda:1", 'set device = "cuda", not \'cuda:1\''), ("cuda", "has no GPU")])
def test_gpu_placement_is_checked_before_joining(monkeypatch, device, message):
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("LOCAL_RANK", "7")  # more processes than GPUs on any test machine
    with pytest.raises(MarginRankError, match=message):
        from_environment(device)


def test_failure_messages_name_the_rank_and_a_lost_peer(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "4")
    monkeypatch.setenv("RANK", "3")
    label = rank_label()
    assert label == "rank 3 of 4"
    assert failure_message(ValueError("bad row\ndetails"), label) == "marginrank: rank 3 of 4 failed: bad row"
    lost = failure_message(RuntimeError("[pair.cc:553] Connection closed by peer [127.0.0.1]:1"), label)
    assert lost.startswith("marginrank: rank 3 of 4 failed: another rank failed or stopped answering")
