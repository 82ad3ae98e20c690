"""Runs inside the throwaway pytorch-metric-learning environment (benchmarks/out/pml-venv), never
imports marginrank: ``python pml_worker.py <spec.pt> <out.pt>``.

``spec["mode"]``: ``"values"`` (PML's loss values and mined triplets on given embeddings) or
``"train"`` (PML's training loop on given batches from given initial weights; step times and the
held-out embeddings).
"""

from __future__ import annotations

import sys
import time

import torch
from pytorch_metric_learning import distances, losses, miners

LOSSES = {
    "triplet": lambda: losses.TripletMarginLoss(margin=0.05),
    "triplet-0.2": lambda: losses.TripletMarginLoss(margin=0.2),
    "contrastive": lambda: losses.ContrastiveLoss(),
    "contrastive-cosine": lambda: losses.ContrastiveLoss(pos_margin=1.0, neg_margin=0.3, distance=distances.CosineSimilarity()),
    "multi-similarity": lambda: losses.MultiSimilarityLoss(),
}
MINERS = {
    None: lambda: None,
    "batch-hard": lambda: miners.BatchHardMiner(),
    "semi-hard": lambda: miners.TripletMarginMiner(margin=0.2, type_of_triplets="semihard"),
    "margin-all": lambda: miners.TripletMarginMiner(margin=0.2, type_of_triplets="all"),
}


def values(spec: dict) -> dict:
    results = []
    for case in spec["cases"]:
        embeddings, labels = case["embeddings"], case["labels"]
        miner, loss = MINERS[case["miner"]](), LOSSES[case["loss"]]()
        triplets = None if miner is None else miner(embeddings, labels)
        value = loss(embeddings, labels, triplets)
        results.append({"loss": float(value), "triplets": None if triplets is None else torch.stack(list(triplets))})
    dw = miners.DistanceWeightedMiner(cutoff=0.5, nonzero_loss_cutoff=1.4)
    weights = []
    for case in spec["weight_cases"]:
        recorded = {}
        original = miners.distance_weighted_miner.lmu.get_random_triplet_indices

        def capture(labels, ref_labels=None, t_per_anchor=None, weights=None):
            recorded["weights"] = weights.clone()
            return original(labels, ref_labels=ref_labels, t_per_anchor=t_per_anchor, weights=weights)

        miners.distance_weighted_miner.lmu.get_random_triplet_indices = capture
        try:
            dw(case["embeddings"], case["labels"])
        finally:
            miners.distance_weighted_miner.lmu.get_random_triplet_indices = original
        weights.append(recorded["weights"])
    return {"results": results, "weights": weights}


class Encoder(torch.nn.Module):
    def __init__(self, widths: list[int]) -> None:
        super().__init__()
        layers: list[torch.nn.Module] = []
        for i, (a, b) in enumerate(zip(widths[:-1], widths[1:])):
            layers.append(torch.nn.Linear(a, b))
            if i < len(widths) - 2:
                layers.append(torch.nn.ReLU())
        self.layers = torch.nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


def train(spec: dict) -> dict:
    torch.set_num_threads(spec["threads"])
    model = Encoder(spec["widths"])
    model.load_state_dict(spec["initial"])
    optimizer = torch.optim.Adam(model.parameters(), lr=spec["lr"])
    loss_fn, miner = LOSSES[spec["loss"]](), MINERS[spec["miner"]]()
    features, labels = spec["features"], spec["labels"]
    seconds = []
    for epoch_batches in spec["batches"]:
        model.train()
        start = time.perf_counter()
        for batch in epoch_batches:
            embeddings = model(features[batch])
            batch_labels = labels[batch]
            triplets = None if miner is None else miner(embeddings, batch_labels)
            loss = loss_fn(embeddings, batch_labels, triplets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        seconds.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        held_out = model(spec["test_features"])
    return {"epoch_seconds": seconds, "test_embeddings": held_out}


if __name__ == "__main__":
    spec = torch.load(sys.argv[1], weights_only=False)
    torch.save({"values": values, "train": train}[spec["mode"]](spec), sys.argv[2])
