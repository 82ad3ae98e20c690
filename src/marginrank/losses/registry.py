"""Score losses by name, for the CLI and config files."""

from __future__ import annotations

import inspect

from marginrank.errors import MarginRankError
from marginrank.losses.base import RankingLoss
from marginrank.losses.bce import BCE
from marginrank.losses.bpr import BPR
from marginrank.losses.bsl import BSL
from marginrank.losses.ccl import CCL
from marginrank.losses.max_margin import MaxMarginHinge
from marginrank.losses.mmcl import MMCL
from marginrank.losses.mse import MSE
from marginrank.losses.pairwise_hinge import PairwiseHinge
from marginrank.losses.psl import PSL
from marginrank.losses.sampled_softmax import SampledSoftmax

_LOSSES: dict[str, type[RankingLoss]] = {
    "mmcl": MMCL,
    "ccl": CCL,
    "bpr": BPR,
    "hinge": PairwiseHinge,
    "max_margin": MaxMarginHinge,
    "softmax": SampledSoftmax,
    "sampled_softmax": SampledSoftmax,
    "bsl": BSL,
    "psl": PSL,
    "mse": MSE,
    "bce": BCE,
}


def available() -> list[str]:
    """The names :func:`get` accepts, sorted."""
    return sorted(_LOSSES)


def get(name: str, **params: object) -> RankingLoss:
    """Build a score loss by name, e.g. ``get("mmcl", neg_weight=700.0)``.

    Unknown names and parameters, and invalid values, raise :class:`MarginRankError`.
    ``Triplet`` takes embeddings, not scores, and is not listed here.
    """
    key = name.strip().lower() if isinstance(name, str) else name
    if key not in _LOSSES:
        raise MarginRankError(f"unknown loss {name!r}; choose one of: {', '.join(available())}")
    cls = _LOSSES[key]
    accepted = [p for p in inspect.signature(cls).parameters if p != "self"]
    unknown = sorted(set(params) - set(accepted))
    if unknown:
        raise MarginRankError(f"loss {key!r} has no parameter {', '.join(unknown)}; it accepts: {', '.join(accepted)}")
    return cls(**params)
