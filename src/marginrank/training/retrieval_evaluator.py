"""Evaluation of an encoder by exact k-NN retrieval over labels (held-out classes or samples)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor, nn

from marginrank.metrics.retrieval import retrieval_metrics


def embed(model: nn.Module, features: Tensor, chunk_size: int = 4096) -> Tensor:
    """``model``'s embeddings of ``features`` in eval mode, without gradients, chunk by chunk."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        parts = [model(features[start : start + chunk_size]) for start in range(0, len(features), chunk_size)]
    model.train(was_training)
    return torch.cat(parts)


class RetrievalEvaluator:
    """``evaluator(model) -> metrics``: :func:`~marginrank.metrics.retrieval.retrieval_metrics` of the
    embedded ``features`` (each one queries the others), e.g. the samples of held-out classes.
    ``reference_features``/``reference_labels`` give a separate gallery instead."""

    def __init__(
        self,
        features: Tensor,
        labels: Tensor,
        *,
        similarity: str = "cosine",
        ks: Sequence[int] = (1, 2, 4, 8),
        reference_features: Tensor | None = None,
        reference_labels: Tensor | None = None,
    ) -> None:
        self.features = torch.as_tensor(features, dtype=torch.float32)
        self.labels = torch.as_tensor(labels, dtype=torch.int64)
        self.reference_features = None if reference_features is None else torch.as_tensor(reference_features, dtype=torch.float32)
        self.reference_labels = reference_labels
        self.similarity, self.ks = similarity, tuple(ks)

    def __call__(self, model: nn.Module) -> dict[str, float]:
        references = None if self.reference_features is None else embed(model, self.reference_features)
        return retrieval_metrics(embed(model, self.features), self.labels, references, self.reference_labels,
                                 similarity=self.similarity, ks=self.ks)
