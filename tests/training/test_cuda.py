"""CUDA paths (skipped without a GPU): the same results as on the CPU."""

import numpy as np
import pytest
import torch

from marginrank import Recommender, datasets
from marginrank.metrics import evaluate_embeddings

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")


@cuda
def test_evaluation_on_gpu_equals_cpu():
    data = datasets.load("synthetic", n_users=500, n_items=300)
    rng = np.random.default_rng(0)
    users, items = rng.normal(size=(500, 16)).astype(np.float32), rng.normal(size=(300, 16)).astype(np.float32)
    cpu = evaluate_embeddings(users, items, data.train.matrix, data.test.matrix, (10, 20))
    gpu = evaluate_embeddings(torch.tensor(users).cuda(), torch.tensor(items).cuda(), data.train.matrix, data.test.matrix, (10, 20))
    for key in cpu:
        assert gpu[key] == pytest.approx(cpu[key], abs=1e-4)


@cuda
@pytest.mark.parametrize("shared", [False, True])
def test_training_on_gpu_beats_popularity(shared):
    data = datasets.load("synthetic")
    rec = Recommender(device="cuda", epochs=8, negatives=100, shared_negatives=shared, group_size=64 if shared else None,
                      sparse=shared, progress=False).fit(data)
    assert rec.metrics_["recall@20"] > 1.5 * rec.metrics_["popularity"]["recall@20"]
    items, _ = rec.recommend([0, 1], k=5)
    assert items.shape == (2, 5)


@cuda
@pytest.mark.parametrize("miner, sampler", [(None, "uniform"), ("semi-hard", "uniform"), (None, "in-batch")])
def test_lightgcn_on_gpu_beats_popularity_and_resumes(tmp_path, miner, sampler):
    data = datasets.load("synthetic")
    settings = dict(model="lightgcn", device="cuda", negatives=64, miner=miner, sampler=sampler, progress=False)
    rec = Recommender(epochs=6, **settings).fit(data)
    on_cpu = Recommender(epochs=6, **{**settings, "device": "cpu"}).fit(data)
    # semi-hard mining keeps 10 of the 64 candidates and learns least (1.43x popularity on the CPU)
    assert rec.metrics_["recall@20"] > 1.3 * rec.metrics_["popularity"]["recall@20"]
    assert rec.metrics_["recall@20"] == pytest.approx(on_cpu.metrics_["recall@20"], abs=0.015)
    items, _ = rec.recommend([0, 1], k=5)
    assert items.shape == (2, 5)
    Recommender(epochs=3, **settings).fit(data, run_dir=tmp_path)
    resumed = Recommender(epochs=6, **settings).fit(data, run_dir=tmp_path, resume=True)
    # scatter-adds on the GPU sum in no fixed order: a resumed run matches to float noise, not bit for bit
    assert resumed.metrics_["recall@20"] == pytest.approx(rec.metrics_["recall@20"], abs=5e-3)
