"""Input checks shared by samplers and miners: they turn bad arguments into MarginRankError."""

from __future__ import annotations

import scipy.sparse as sp
import torch

from marginrank.checks import require_integer
from marginrank.errors import MarginRankError


def positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1, or a MarginRankError naming ``name``."""
    return require_integer(name, value, 1)


def non_negative_int(name: str, value: object) -> int:
    """``value`` as an int >= 0, or a MarginRankError naming ``name``."""
    return require_integer(name, value, 0)


def index_tensor(name: str, values: object, upper: int, dim: int | None = None) -> torch.Tensor:
    """``values`` as an int64 tensor with entries in ``[0, upper)`` (and ``dim`` dimensions if given)."""
    tensor = torch.as_tensor(values)
    if tensor.numel() == 0 and tensor.dtype.is_floating_point:  # an empty list is an empty batch
        tensor = tensor.to(torch.int64)
    if tensor.dtype.is_floating_point or tensor.dtype.is_complex or tensor.dtype == torch.bool:
        raise MarginRankError(f"{name} must hold integer indices, got dtype {tensor.dtype}")
    if dim is not None and tensor.dim() != dim:
        raise MarginRankError(f"{name} must be {dim}-D, got shape {tuple(tensor.shape)}")
    tensor = tensor.to(torch.int64)
    if tensor.numel() and (int(tensor.min()) < 0 or int(tensor.max()) >= upper):
        bad = tensor[(tensor < 0) | (tensor >= upper)][0].item()
        raise MarginRankError(f"{name} holds {bad}, outside [0, {upper})")
    return tensor


def canonical_csr(matrix: object, name: str = "exclude") -> sp.csr_matrix:
    """A copy of a scipy sparse matrix as CSR with sorted, unique column indices and no stored zeros."""
    if not sp.issparse(matrix):
        raise MarginRankError(f"{name} must be a scipy sparse users x items matrix, got {type(matrix).__name__}")
    if matrix.ndim != 2:
        raise MarginRankError(f"{name} must be 2-D, got shape {matrix.shape}")
    csr = sp.csr_matrix(matrix, copy=True)
    csr.eliminate_zeros()
    csr.sum_duplicates()
    csr.sort_indices()
    return csr
