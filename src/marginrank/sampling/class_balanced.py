"""Class-balanced batches for label tasks: ``P`` classes per batch, ``m`` samples of each."""

from __future__ import annotations

from collections.abc import Iterator

import torch

from marginrank.checks import require, require_integer


class ClassBalancedBatches:
    """Batches of ``classes_per_batch * samples_per_class`` sample indices, ``samples_per_class``
    of each of ``classes_per_batch`` distinct classes (the "PK" batches of Hermans et al. 2017,
    PML's ``MPerClassSampler``), so every sample of a batch has positives and negatives in it.

    Each batch draws its classes uniformly without replacement, and the samples of each class
    uniformly without replacement within the batch; ``batches`` per epoch [the number of samples //
    batch size]. ``generator`` owns every draw (the task reseeds it per epoch).
    """

    def __init__(
        self,
        labels: torch.Tensor,
        classes_per_batch: int,
        samples_per_class: int,
        generator: torch.Generator,
        *,
        batches: int | None = None,
    ) -> None:
        labels = torch.as_tensor(labels, dtype=torch.int64)
        require(labels.dim() == 1 and len(labels) > 0, "labels must be a non-empty 1-D tensor")
        classes, counts = torch.unique(labels, return_counts=True)
        self.classes_per_batch = require_integer("classes_per_batch", classes_per_batch, 2, len(classes))
        self.samples_per_class = require_integer("samples_per_class", samples_per_class, 2)
        require(
            int(counts.min()) >= self.samples_per_class,
            f"every class needs at least samples_per_class = {self.samples_per_class} samples; "
            f"class {int(classes[counts.argmin()])} has {int(counts.min())}",
        )
        self.batch_size = self.classes_per_batch * self.samples_per_class
        default = max(1, len(labels) // self.batch_size)
        self.batches = default if batches is None else require_integer("batches", batches, 1)
        self.generator = generator
        order = torch.argsort(labels, stable=True)  # the samples of class c are order[start[c]:start[c] + count[c]]
        starts = counts.cumsum(0) - counts
        width = int(counts.max())
        offsets = torch.arange(width)
        self._members = order[(starts[:, None] + offsets.clamp_max(counts[:, None] - 1))]  # [C, width], padded
        self._present = offsets < counts[:, None]

    def __len__(self) -> int:
        return self.batches

    def __iter__(self) -> Iterator[torch.Tensor]:
        for _ in range(self.batches):
            yield self.draw()

    def draw(self) -> torch.Tensor:
        """One batch, ``[P * m]`` sample indices grouped by class."""
        picked = torch.randperm(len(self._members), generator=self.generator)[: self.classes_per_batch]
        keys = torch.rand(self._present[picked].shape, generator=self.generator, dtype=torch.float64)
        keys = keys.masked_fill(~self._present[picked], -1.0)
        slots = keys.topk(self.samples_per_class, dim=1).indices
        return self._members[picked].gather(1, slots).reshape(-1)
