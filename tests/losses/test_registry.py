from __future__ import annotations

import pytest

from marginrank.errors import MarginRankError
from marginrank.losses import BSL, CCL, MMCL, PairwiseHinge, RankingLoss, SampledSoftmax, available, get


def test_available_names() -> None:
    assert available() == sorted(
        ["bce", "bpr", "bsl", "ccl", "hinge", "max_margin", "mmcl", "mse", "psl", "sampled_softmax", "softmax"]
    )
    assert all(isinstance(get(name), RankingLoss) for name in available())


def test_get_builds_with_parameters() -> None:
    loss = get("mmcl", margins=[0.7, 0.8, 0.9], weights=[0.10, 0.15, 0.75], neg_weight=700.0, reduction="sum")
    assert isinstance(loss, MMCL) and loss.neg_weight == 700.0 and loss.reduction == "sum"
    assert isinstance(get("hinge"), PairwiseHinge) and isinstance(get(" Softmax "), SampledSoftmax)
    assert get("ccl").margin == 0.9 and isinstance(get("bsl", tau1=0.08, tau2=1.22), BSL)
    assert isinstance(get("ccl", neg_weight=250), CCL)


def test_unknown_name_lists_valid_names() -> None:
    with pytest.raises(MarginRankError, match="choose one of: bce, bpr"):
        get("triplett")


@pytest.mark.parametrize(
    "name,params,match",
    [
        ("ccl", {"temperature": 0.1}, "has no parameter temperature; it accepts: margin, neg_weight, reduction"),
        ("mmcl", {"margins": [0.5, 0.6], "weights": [1.0]}, "same length"),
        ("bpr", {"temperature": 0}, "temperature must be > 0"),
        ("softmax", {"temperature": "warm"}, "temperature must be a finite number, got 'warm'"),
        ("bsl", {"reduction": "max"}, "reduction must be one of"),
    ],
)
def test_bad_parameters(name: str, params: dict, match: str) -> None:
    with pytest.raises(MarginRankError, match=match):
        get(name, **params)
