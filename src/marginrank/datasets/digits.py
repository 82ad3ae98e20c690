"""scikit-learn's 8x8 digits (1797 images, 10 classes; shipped with scikit-learn, no download) as a
metric-learning split by classes: train on some digits, retrieve among the held-out ones."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from marginrank.checks import require
from marginrank.errors import MarginRankError


@dataclass(frozen=True)
class LabelSplit:
    """Features ``[n, F]`` (float32) and labels ``[n]`` (int64) of the training and the held-out part."""

    train_features: torch.Tensor
    train_labels: torch.Tensor
    test_features: torch.Tensor
    test_labels: torch.Tensor


def load_digits(held_out_classes: Sequence[int] = (7, 8, 9)) -> LabelSplit:
    """Digits with pixel values scaled to [0, 1]; the samples of ``held_out_classes`` are the
    held-out part (classes never seen in training). Needs scikit-learn (``pip install marginrank[digits]``)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise MarginRankError("the digits data ships with scikit-learn: pip install 'marginrank[digits]'") from None
    held_out = sorted({int(c) for c in held_out_classes})
    require(all(0 <= c <= 9 for c in held_out) and 0 < len(held_out) <= 8,
            f"held_out_classes must name 1 to 8 of the digits 0-9 (two or more stay for training); got {list(held_out_classes)}")
    data = sklearn_digits()
    features = torch.as_tensor(data.data, dtype=torch.float32) / 16.0
    labels = torch.as_tensor(data.target, dtype=torch.int64)
    test = torch.isin(labels, torch.tensor(held_out))
    return LabelSplit(features[~test], labels[~test], features[test], labels[test])
