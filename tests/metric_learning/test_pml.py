"""Loss values and mined triplets against pytorch-metric-learning, where it is installed."""

from __future__ import annotations

import pytest
import torch

from tests.conftest import benchmark_script

pml = pytest.importorskip("pytorch_metric_learning", reason="pytorch-metric-learning is not installed here "
                          "(benchmarks/metric_learning.py compares against it in a throwaway venv)")


def test_values_and_triplets_equal_pml() -> None:
    bench = benchmark_script("metric_learning")
    worker = benchmark_script("pml_worker")
    generator = torch.Generator().manual_seed(3)
    labels = torch.arange(5).repeat_interleave(4)[torch.randperm(20, generator=generator)]
    embeddings = torch.randn(20, 8, generator=generator)
    for loss, miner in bench.VALUE_CASES:
        theirs = worker.values({"cases": [{"embeddings": embeddings, "labels": labels, "loss": loss, "miner": miner}],
                                "weight_cases": []})["results"][0]
        ours, triplets = bench.marginrank_value(embeddings, labels, loss, miner)
        assert ours == pytest.approx(theirs["loss"], abs=1e-5)
        if triplets is not None:
            assert sorted(map(tuple, triplets.T.tolist())) == sorted(map(tuple, theirs["triplets"].T.tolist()))
