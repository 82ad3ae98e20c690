"""The process group a run belongs to: one process by default, or the group ``torchrun`` starts.

``torchrun --nproc_per_node=N -m marginrank train ...`` sets ``RANK``, ``WORLD_SIZE``,
``LOCAL_RANK`` and the rendezvous variables; :func:`from_environment` joins that group (gloo on
CPU; on CUDA, nccl for GPU tensors and gloo for the few CPU ones). Every rank holds a full replica
of the model; each trains on its share of every global batch and the gradients are averaged
(:meth:`ProcessGroup.gradient_sync`), so N processes follow the trajectory of one process with the
same global batch, up to the negatives drawn, which differ per rank.

Three ways to average the gradients, all giving ``g = (1/W) sum_r g_r``:

- ``"dense"``: one all-reduce of every gradient, flattened into one buffer (the whole tables).
- ``"rows"``: all-gather only the embedding rows each rank touched (ids and gradient rows), then
  sum them; a batch touches a few thousand rows of tables with tens of thousands, so it sends far
  fewer bytes. Non-table parameters (1-D, or any whose gradient is dense and not a table) still go
  through the dense all-reduce.
- ``"ddp"``: :class:`torch.nn.parallel.DistributedDataParallel` (bucketed all-reduce during backward).
"""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from marginrank.errors import MarginRankError

GRAD_SYNCS = ("rows", "dense", "ddp")
TIMEOUT_VARIABLE = "MARGINRANK_COLLECTIVE_TIMEOUT"


@dataclass(frozen=True)
class ProcessGroup:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1

    def sum_(self, values: torch.Tensor) -> torch.Tensor:
        """In-place sum over ranks (no-op for one process)."""
        if self.active:
            dist.all_reduce(values)
        return values

    def share(self, items: np.ndarray) -> np.ndarray:
        """This rank's share of ``items`` (a strided slice)."""
        return items[self.rank :: self.world_size]

    def gradient_sync(self, model: nn.Module, mode: str = "rows") -> GradientSync:
        """The object that averages ``model``'s gradients over ranks after every backward pass."""
        if mode not in GRAD_SYNCS:
            raise MarginRankError(f"grad_sync must be one of {', '.join(GRAD_SYNCS)}, got {mode!r}")
        if not self.active:
            return GradientSync(model, self)
        return {"dense": DenseAllReduce, "rows": TouchedRows, "ddp": DataParallel}[mode](model, self)


class GradientSync:
    """``module`` is what the trainer calls forward on; ``synchronize()`` runs after ``backward()``
    and leaves the mean over ranks in every ``.grad``, returning the bytes this rank sent.
    The base class is the one-process case: nothing to do."""

    def __init__(self, model: nn.Module, process: ProcessGroup) -> None:
        self.model, self.module, self.process = model, model, process

    def parameters(self) -> list[nn.Parameter]:
        return [p for p in self.model.parameters() if p.requires_grad]

    def synchronize(self) -> int:
        return 0


class DenseAllReduce(GradientSync):
    """One all-reduce of every gradient as one flat buffer; sparse gradients are densified for the
    exchange and made sparse again (so a row-wise optimizer still sees the rows it should update)."""

    def synchronize(self) -> int:
        return _all_reduce_mean(self.parameters(), self.process.world_size)


class TouchedRows(GradientSync):
    """All-gather the touched rows of every embedding table: ids ``[m]`` and gradient rows ``[m, d]``
    per rank (padded to the largest ``m``), then ``grad = (1/W) * index_add(ids, rows)``.

    A row is touched when its sparse gradient lists it, or when its dense gradient row is not all
    zero (a row with an all-zero gradient contributes nothing to the sum, so leaving it out is exact).
    """

    def synchronize(self) -> int:
        parameters = self.parameters()
        tables = [p for p in parameters if p.dim() == 2]
        sent = _all_reduce_mean([p for p in parameters if p.dim() != 2], self.process.world_size)
        if not tables:
            return sent
        world = self.process.world_size
        ids, rows = zip(*(_touched_rows(table) for table in tables))
        counts = torch.tensor([len(i) for i in ids], dtype=torch.int64, device=tables[0].device)
        all_counts = _all_gather(counts, world)  # [W, tables]
        widest = all_counts.max(dim=0).values.tolist()
        dtype = tables[0].dtype
        flat_ids = torch.cat([_pad(i, m) for i, m in zip(ids, widest)])
        flat_rows = torch.cat([_pad(r.to(dtype), m).reshape(-1) for r, m in zip(rows, widest)])
        all_ids, all_rows = _all_gather(flat_ids, world), _all_gather(flat_rows, world)
        id_offset = row_offset = 0
        for k, (table, m) in enumerate(zip(tables, widest)):
            dim = table.shape[1]
            valid = torch.arange(m, device=table.device)[None, :] < all_counts[:, k : k + 1]  # drop padding
            table_ids = all_ids[:, id_offset : id_offset + m][valid]
            table_rows = all_rows[:, row_offset : row_offset + m * dim].reshape(world, m, dim)[valid]
            _set_mean_rows(table, table_ids, table_rows.to(table.dtype) / world)
            id_offset, row_offset = id_offset + m, row_offset + m * dim
        return sent + _nbytes(counts, flat_ids, flat_rows)


class DataParallel(GradientSync):
    """:class:`~torch.nn.parallel.DistributedDataParallel` around the model (it also broadcasts
    rank 0's weights at construction). The bytes reported are the gradients it all-reduces."""

    def __init__(self, model: nn.Module, process: ProcessGroup) -> None:
        super().__init__(model, process)
        if any(isinstance(m, nn.Embedding) and m.sparse for m in model.modules()):
            raise MarginRankError(
                "grad_sync 'ddp' with sparse embeddings aborted (std::terminate in gloo) in our Gowalla runs: use 'rows'"
            )
        on_gpu = next(model.parameters()).is_cuda
        self.module = nn.parallel.DistributedDataParallel(
            model, device_ids=[process.local_rank] if on_gpu else None
        )

    def synchronize(self) -> int:
        grads = [p.grad for p in self.parameters() if p.grad is not None]
        return sum(g._nnz() * g.shape[1] * g.element_size() if g.is_sparse else g.numel() * g.element_size() for g in grads)


def _all_reduce_mean(parameters: list[nn.Parameter], world_size: int) -> int:
    """Average the gradients of ``parameters`` over ranks with one all-reduce; returns the bytes sent."""
    if not parameters:
        return 0
    grads, was_sparse = [], []
    for parameter in parameters:
        if parameter.grad is None:
            parameter.grad = torch.zeros_like(parameter)
        was_sparse.append(parameter.grad.is_sparse)
        grads.append(parameter.grad.to_dense() if parameter.grad.is_sparse else parameter.grad)
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= world_size
    offset = 0
    for parameter, grad, sparse in zip(parameters, grads, was_sparse):
        mean = flat[offset : offset + grad.numel()].view_as(grad)
        if sparse:
            touched = mean.ne(0).any(dim=1).nonzero().squeeze(1)
            parameter.grad = torch.sparse_coo_tensor(touched[None], mean[touched], grad.shape, check_invariants=False).coalesce()
        else:
            grad.copy_(mean)
        offset += grad.numel()
    return _nbytes(flat)


def _touched_rows(table: nn.Parameter) -> tuple[torch.Tensor, torch.Tensor]:
    """``(ids [m], rows [m, d])`` of the table's gradient rows that may be non-zero."""
    grad = table.grad
    if grad is None:
        return torch.empty(0, dtype=torch.int64, device=table.device), table.new_empty(0, table.shape[1])
    if grad.is_sparse:
        grad = grad.coalesce()
        return grad.indices()[0], grad.values()
    ids = grad.abs().sum(dim=1).nonzero().squeeze(1)  # zero iff the row is all zero; 4x faster than ne(0).any
    return ids, grad[ids]


def _set_mean_rows(table: nn.Parameter, ids: torch.Tensor, rows: torch.Tensor) -> None:
    """``table.grad = sum of rows at ids`` (duplicates added), keeping the gradient's layout."""
    if table.grad is not None and table.grad.is_sparse:
        table.grad = torch.sparse_coo_tensor(ids[None], rows, table.shape, check_invariants=False).coalesce()
        return
    if table.grad is None:
        table.grad = torch.zeros_like(table)
    table.grad.zero_()
    table.grad.index_add_(0, ids, rows)


def _pad(values: torch.Tensor, length: int) -> torch.Tensor:
    """``values`` with zero rows appended up to ``length`` rows."""
    if len(values) == length:
        return values
    return torch.cat([values, values.new_zeros((length - len(values), *values.shape[1:]))])


def _all_gather(values: torch.Tensor, world_size: int) -> torch.Tensor:
    """``[W, *values.shape]``: every rank's ``values`` (same shape on every rank)."""
    gathered = [torch.empty_like(values) for _ in range(world_size)]
    dist.all_gather(gathered, values.contiguous())
    return torch.stack(gathered)


def _nbytes(*tensors: torch.Tensor) -> int:
    return sum(t.numel() * t.element_size() for t in tensors)


def from_environment(device: str = "cpu", timeout_s: float | None = None) -> ProcessGroup:
    """Join the group described by torchrun's environment, or return the one-process group.

    On CUDA, process ``LOCAL_RANK`` uses GPU ``cuda:LOCAL_RANK``. A collective that waits longer than
    ``timeout_s`` (default: ``$MARGINRANK_COLLECTIVE_TIMEOUT`` or 300 s) raises instead of hanging.
    """
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return ProcessGroup()
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    on_gpu = str(device).startswith("cuda")
    if on_gpu:
        if str(device) != "cuda":
            raise MarginRankError(f'under torchrun set device = "cuda", not {device!r}: process LOCAL_RANK uses cuda:LOCAL_RANK')
        available = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if local_rank >= available:
            raise MarginRankError(
                f"process with LOCAL_RANK {local_rank} has no GPU: this machine has {available}; "
                f"start at most {available} processes per node (torchrun's --nproc_per_node)"
            )
        torch.cuda.set_device(local_rank)
    if not dist.is_initialized():
        seconds = timeout_s if timeout_s is not None else float(os.environ.get(TIMEOUT_VARIABLE, "300"))
        try:
            dist.init_process_group("cpu:gloo,cuda:nccl" if on_gpu else "gloo", timeout=datetime.timedelta(seconds=seconds))
        except (RuntimeError, ValueError) as error:
            raise MarginRankError(f"could not join the process group: {str(error).splitlines()[0]}") from None
    return ProcessGroup(dist.get_rank(), dist.get_world_size(), local_rank)


def leave() -> None:
    """Leave the process group (after a finished run), if this process joined one.

    Every rank first waits at a barrier: a rank that tears its gloo connections down while a peer
    still uses them can make that peer abort in gloo's teardown ("terminate called without an
    active exception"), after a run that otherwise succeeded.
    """
    if dist.is_available() and dist.is_initialized():
        dist.barrier()
        dist.destroy_process_group()


def rank_label() -> str | None:
    """``"rank R of W"`` when torchrun started this process in a group of several, else ``None``."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    return f"rank {os.environ.get('RANK', '?')} of {world_size}" if world_size > 1 else None


def lost_peer(error: BaseException) -> bool:
    """Whether ``error`` is a collective that failed because another rank died or stopped answering."""
    text = str(error)
    return isinstance(error, dist.DistError) or any(
        sign in text for sign in ("Connection closed by peer", "Connection reset", "Timed out waiting")
    )


def failure_message(error: BaseException, label: str) -> str:
    """One line naming the failed rank; a lost peer is described as such (the cause is elsewhere)."""
    first_line = (str(error).strip().splitlines() or [type(error).__name__])[0]
    if lost_peer(error):
        return f"marginrank: {label} failed: another rank failed or stopped answering (see its message): {first_line}"
    return f"marginrank: {label} failed: {first_line}"
