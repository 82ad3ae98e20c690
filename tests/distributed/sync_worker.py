"""Run under torchrun (2+ processes): every gradient sync must leave on every rank the mean of the
gradients that each rank's batch gives, computed here independently by replaying all the batches
on a local replica. Exits non-zero, naming the case, on any mismatch."""

from __future__ import annotations

import os
import sys

import torch

from marginrank.models import MF
from marginrank.training.distributed import GRAD_SYNCS, from_environment, leave

N_USERS, N_ITEMS, DIM, BATCH, NEGATIVES = 50, 80, 8, 16, 12


def batch_of(rank: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(100 + rank)
    users = torch.randint(0, N_USERS, (BATCH,), generator=generator)
    items = torch.randint(0, N_ITEMS, (BATCH,), generator=generator)
    return users, items, torch.randint(0, N_ITEMS, (NEGATIVES,), generator=generator)


def fresh_model(sparse: bool) -> MF:
    torch.manual_seed(0)
    return MF(N_USERS, N_ITEMS, DIM, similarity="dot", sparse=sparse)


def objective(module, model: MF, users, items, negatives) -> torch.Tensor:
    pos, neg = module(users, items, negatives)
    return (neg - pos[:, None]).exp().mean() + 0.1 * model.regularization(users, items, negatives)


def dense_grads(model: MF) -> list[torch.Tensor]:
    return [p.grad.to_dense() for p in model.parameters()]


def sparse_rows(model: MF) -> list[set[int]]:
    """The rows a sparse gradient lists (those that lazy Adam updates)."""
    return [set(p.grad.coalesce().indices()[0].tolist()) for p in model.parameters()]


def main() -> int:
    process = from_environment()
    failures = []
    for sparse in (False, True):
        expected, expected_rows = None, [set(), set()]
        for rank in range(process.world_size):  # the reference: every rank's batch on a local replica
            model = fresh_model(sparse)
            objective(model, model, *batch_of(rank)).backward()
            grads = dense_grads(model)
            if sparse:
                expected_rows = [a | b for a, b in zip(expected_rows, sparse_rows(model))]
            expected = grads if expected is None else [e + g for e, g in zip(expected, grads)]
        expected = [e / process.world_size for e in expected]
        for mode in GRAD_SYNCS:
            if sparse and mode == "ddp":  # refused: see DataParallel
                continue
            model = fresh_model(sparse)
            sync = process.gradient_sync(model, mode)
            objective(sync.module, model, *batch_of(process.rank)).backward()
            sent = sync.synchronize()
            case = f"rank {process.rank}, grad_sync={mode}, sparse={sparse}"
            if sent <= 0:
                failures.append(f"{case}: reported {sent} bytes sent")
            if sparse and mode != "ddp":
                if not all(p.grad.is_sparse for p in model.parameters()):
                    failures.append(f"{case}: the gradient is no longer sparse")
                elif sparse_rows(model) != expected_rows:
                    failures.append(f"{case}: the sparse gradient lists other rows than the ranks touched")
            for name, got, want in zip(("users", "items"), dense_grads(model), expected):
                if not torch.allclose(got, want, rtol=1e-5, atol=1e-7):
                    failures.append(f"{case}: {name} gradient differs by {(got - want).abs().max():.3g}")
    print("\n".join(failures) or f"rank {process.rank}: all gradient syncs agree", file=sys.stderr)
    leave()  # exiting with the group still open can abort in gloo's teardown ("terminate called ...")
    return 1 if failures else 0


if __name__ == "__main__":
    # Exit without running C++ destructors: the DDP reducers built above can still own a joinable
    # thread at interpreter teardown, and its destructor aborts ("terminate called without an
    # active exception") after both ranks have reported. The verdict is already printed.
    code = main()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
