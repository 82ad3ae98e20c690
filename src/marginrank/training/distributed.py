"""The process group a run belongs to: one process by default, or the group ``torchrun`` starts.

``torchrun --nproc_per_node=N -m marginrank train ...`` sets ``RANK``, ``WORLD_SIZE`` and the
rendezvous variables; :func:`from_environment` joins that group (gloo on CPU, nccl on CUDA).
Every rank holds a full replica of the model; each trains on its share of every global batch and
the gradients are averaged, so N processes follow the same trajectory as one process with the
same global batch (up to the negatives drawn, which differ per rank).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from marginrank.errors import MarginRankError


@dataclass(frozen=True)
class ProcessGroup:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def average_gradients(self, parameters) -> int:
        """All-reduce the (dense) gradients of ``parameters`` into their mean, as one flat buffer.

        Returns the number of bytes this rank sent (the payload size of the all-reduce).
        """
        if not self.active:
            return 0
        grads = []
        for parameter in parameters:
            if parameter.grad is None:
                parameter.grad = torch.zeros_like(parameter)
            if parameter.grad.is_sparse:
                parameter.grad = parameter.grad.to_dense()
            grads.append(parameter.grad)
        flat = torch.cat([g.reshape(-1) for g in grads])
        dist.all_reduce(flat)
        flat /= self.world_size
        offset = 0
        for grad in grads:
            grad.copy_(flat[offset : offset + grad.numel()].view_as(grad))
            offset += grad.numel()
        return flat.numel() * flat.element_size()

    def sum_(self, values: torch.Tensor) -> torch.Tensor:
        """In-place sum over ranks (no-op for one process)."""
        if self.active:
            dist.all_reduce(values)
        return values

    def share(self, items: np.ndarray) -> np.ndarray:
        """This rank's share of ``items`` (a strided slice)."""
        return items[self.rank :: self.world_size]


def from_environment(device: str = "cpu", timeout_s: float = 300.0) -> ProcessGroup:
    """Join the group described by torchrun's environment, or return the one-process group."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup()
    if not dist.is_initialized():
        backend = "nccl" if str(device).startswith("cuda") else "gloo"
        try:
            dist.init_process_group(backend, timeout=datetime.timedelta(seconds=timeout_s))
        except (RuntimeError, ValueError) as error:
            raise MarginRankError(f"could not join the process group: {str(error).splitlines()[0]}") from None
    return ProcessGroup(dist.get_rank(), dist.get_world_size())
