"""marginrank's metric learning over labels side by side with pytorch-metric-learning (PML 2.8.1,
installed into a throwaway venv under benchmarks/out, never a dependency), on scikit-learn's digits.

1. Values: on the same embeddings and labels (random, and a trained encoder's), the same loss and
   miner give the same loss value (to 1e-5) and the same mined triplets; the distance-weighted
   miner the same sampling probabilities.
2. Training: the same encoder from the same initial weights, on the same class-balanced batches
   (digits 0-6), with the same loss and miner, for the same epochs: the time per training step
   (marginrank through its Trainer and LabelTask; both on one thread, runs alternated) and MAP@R on
   the held-out digits 7-9.

Prints a table and writes benchmarks/results/metric_learning.{json,md}.
    python benchmarks/metric_learning.py [--epochs 10] [--seeds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from peer_env import TORCH_PIN, ensure_venv, python_of

from marginrank.datasets.digits import load_digits
from marginrank.losses import Contrastive, MultiSimilarity, TripletMargin
from marginrank.metrics.retrieval import retrieval_metrics
from marginrank.models.encoder import MLPEncoder
from marginrank.sampling.label_miners import BatchAllMiner, BatchHardMiner, DistanceWeightedMiner, PerPairMiner
from marginrank.sampling.miners import SemiHardMiner
from marginrank.training.seeds import EpochSeeds
from marginrank.training.tasks import LabelTask
from marginrank.training.trainer import Trainer

HERE = Path(__file__).resolve().parent
VENV = HERE / "out" / "pml-venv"
WORKER = HERE / "pml_worker.py"
RESULTS = HERE / "results"
PINS = [TORCH_PIN, "pytorch-metric-learning==2.8.1"]

# name -> (marginrank loss, similarity on which PML's default distance agrees)
LOSSES = {
    "triplet": (lambda: TripletMargin(margin=0.05), "euclidean"),
    "triplet-0.2": (lambda: TripletMargin(margin=0.2), "euclidean"),
    "contrastive": (lambda: Contrastive(pos_margin=-0.0, neg_margin=-1.0), "euclidean"),
    "contrastive-cosine": (lambda: Contrastive(pos_margin=1.0, neg_margin=0.3), "cosine"),
    "multi-similarity": (lambda: MultiSimilarity(), "cosine"),
}
MINERS = {
    None: lambda: None,
    "batch-hard": lambda: BatchHardMiner(),
    "semi-hard": lambda: PerPairMiner(SemiHardMiner(0.2)),
    "margin-all": lambda: BatchAllMiner(margin=0.2),
}
VALUE_CASES = [
    ("triplet", None), ("triplet", "batch-hard"), ("triplet", "semi-hard"), ("triplet", "margin-all"),
    ("triplet-0.2", "batch-hard"), ("contrastive", None), ("contrastive-cosine", None), ("multi-similarity", None),
]
TRAIN_CASES = [("triplet-0.2", "batch-hard"), ("multi-similarity", None)]
WIDTHS = [64, 128, 32]
CLASSES_PER_BATCH, SAMPLES_PER_CLASS, LR = 7, 4, 1e-3


class Normalized(nn.Module):
    """The identity on already-computed embeddings, L2-normalized (PML's LpDistance default)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.normalize(x, dim=1)


def run_pml(spec: dict) -> dict:
    with tempfile.TemporaryDirectory() as folder:
        spec_path, out_path = Path(folder) / "spec.pt", Path(folder) / "out.pt"
        torch.save(spec, spec_path)
        done = subprocess.run([str(python_of(VENV)), str(WORKER), str(spec_path), str(out_path)], capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"the PML worker failed:\n{done.stderr[-3000:]}")
        return torch.load(out_path, weights_only=False)


def label_task(features: torch.Tensor, labels: torch.Tensor, loss, miner_name: str | None, similarity: str, **sizes: int) -> LabelTask:
    """marginrank's label task for ``loss``: one row per anchor over the batch when no miner is set and the loss works per anchor."""
    return LabelTask(features, labels, miner=MINERS[miner_name](), similarity=similarity,
                     per_anchor=miner_name is None and loss.takes("pos_mask"), **sizes)


def marginrank_value(embeddings: torch.Tensor, labels: torch.Tensor, loss_name: str, miner_name: str | None) -> tuple[float, torch.Tensor | None]:
    """The loss through the real path: a LabelTask over the embeddings as features, scored by the
    (normalizing) identity, one batch of every sample."""
    make_loss, similarity = LOSSES[loss_name]
    loss = make_loss()
    task = label_task(embeddings, labels, loss, miner_name, similarity, classes_per_batch=len(labels.unique()), samples_per_class=2)
    batch = torch.arange(len(labels))
    scores = task.scores(Normalized(), batch, torch.device("cpu"))
    value = loss(scores.pos, scores.neg, scores.mask, **{key: extra for key, extra in scores.extras.items() if loss.takes(key)})
    picks = task.miner(-torch.cdist(F.normalize(embeddings, dim=1), F.normalize(embeddings, dim=1)), labels, embeddings)
    return float(value), None if miner_name is None else torch.stack(picks.triplets())


def value_batches(split, seeds: int) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    """Random embeddings on class-balanced label sets, and an untrained and a briefly trained encoder's."""
    batches = []
    for seed in range(seeds):
        generator = torch.Generator().manual_seed(seed)
        labels = torch.arange(6).repeat_interleave(4)[torch.randperm(24, generator=generator)]
        batches.append((f"random {seed}", torch.randn(24, 16, generator=generator), labels))
    torch.manual_seed(0)
    encoder = MLPEncoder(WIDTHS[0], WIDTHS[-1], WIDTHS[1:-1])
    picked = torch.cat([torch.nonzero(split.train_labels == c).squeeze(1)[:5] for c in range(7)])
    with torch.no_grad():
        batches.append(("digits encoder", encoder(split.train_features[picked]), split.train_labels[picked]))
    return batches


def compare_values(split, seeds: int) -> list[dict]:
    batches = value_batches(split, seeds)
    cases = [{"embeddings": e, "labels": y, "loss": loss, "miner": miner} for _, e, y in batches for loss, miner in VALUE_CASES]
    pml = run_pml({"mode": "values", "cases": cases, "weight_cases": [{"embeddings": e, "labels": y} for _, e, y in batches]})
    rows = []
    for case, theirs in zip(cases, pml["results"]):
        ours, triplets = marginrank_value(case["embeddings"], case["labels"], case["loss"], case["miner"])
        same = None
        if triplets is not None:
            same = sorted(map(tuple, triplets.T.tolist())) == sorted(map(tuple, theirs["triplets"].T.tolist()))
        rows.append({"loss": case["loss"], "miner": case["miner"] or "none (all pairs)", "marginrank": ours, "pml": theirs["loss"],
                     "abs_diff": abs(ours - theirs["loss"]), "same_triplets": same,
                     "triplets": None if triplets is None else triplets.shape[1]})
    miner = DistanceWeightedMiner()
    for (_, e, y), theirs in zip(batches, pml["weights"]):
        ours = miner.probabilities(e, y)
        rows.append({"loss": "(probabilities)", "miner": "distance-weighted", "marginrank": float(ours.sum()), "pml": float(theirs.sum()),
                     "abs_diff": float((ours - theirs).abs().max()), "same_triplets": None, "triplets": None})
    return rows


def epoch_batches(labels: torch.Tensor, seed: int, epochs: int) -> list[list[torch.Tensor]]:
    """The batches marginrank's LabelTask draws in each epoch of a run seeded ``seed`` (handed to PML)."""
    task = LabelTask(torch.zeros(len(labels), 1), labels, classes_per_batch=CLASSES_PER_BATCH, samples_per_class=SAMPLES_PER_CLASS)
    drawn = []
    for epoch in range(1, epochs + 1):
        task.begin_epoch(epoch, EpochSeeds(seed, epoch))
        drawn.append(list(task.batches()))
    return drawn


def held_out_map(embeddings: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    return retrieval_metrics(F.normalize(embeddings, dim=1), labels, similarity="euclidean", ks=(1, 4))


def train_marginrank(split, loss_name: str, miner_name: str | None, seed: int, epochs: int, initial: dict) -> dict:
    make_loss, similarity = LOSSES[loss_name]
    encoder = MLPEncoder(WIDTHS[0], WIDTHS[-1], WIDTHS[1:-1], normalize=similarity == "euclidean")
    encoder.load_state_dict(initial)
    loss = make_loss()
    task = label_task(split.train_features, split.train_labels, loss, miner_name, similarity,
                      classes_per_batch=CLASSES_PER_BATCH, samples_per_class=SAMPLES_PER_CLASS)
    trainer = Trainer(encoder, task, loss, torch.optim.Adam(encoder.parameters(), lr=LR), seed=seed, progress=False)
    result = trainer.fit(epochs)
    with torch.no_grad():
        held_out = encoder.eval()(split.test_features)
    return {"epoch_seconds": [record["seconds"] for record in result.history], "steps_per_epoch": len(task),
            "metrics": held_out_map(held_out, split.test_labels)}


def train_pml(split, loss_name: str, miner_name: str | None, seed: int, epochs: int, initial: dict) -> dict:
    batches = epoch_batches(split.train_labels, seed, epochs)
    out = run_pml({"mode": "train", "threads": 1, "widths": WIDTHS, "initial": initial, "lr": LR, "loss": loss_name,
                   "miner": miner_name, "features": split.train_features, "labels": split.train_labels, "batches": batches,
                   "test_features": split.test_features})
    return {"epoch_seconds": out["epoch_seconds"], "metrics": held_out_map(out["test_embeddings"], split.test_labels)}


def compare_training(split, epochs: int, seeds: int) -> list[dict]:
    torch.set_num_threads(1)
    rows = []
    for loss_name, miner_name in TRAIN_CASES:
        for seed in range(seeds):
            torch.manual_seed(seed)
            initial = {k: v.clone() for k, v in MLPEncoder(WIDTHS[0], WIDTHS[-1], WIDTHS[1:-1]).state_dict().items()}
            ours = train_marginrank(split, loss_name, miner_name, seed, epochs, initial)  # alternated: ours, PML, ours, PML...
            theirs = train_pml(split, loss_name, miner_name, seed, epochs, initial)
            steps = ours["steps_per_epoch"]
            ours_step = statistics.median(ours["epoch_seconds"]) / steps
            pml_step = statistics.median(theirs["epoch_seconds"]) / steps
            rows.append({"loss": loss_name, "miner": miner_name or "none (all pairs)", "seed": seed, "epochs": epochs,
                         "steps_per_epoch": steps, "marginrank_step_ms": 1e3 * ours_step, "pml_step_ms": 1e3 * pml_step,
                         "time_ratio": ours_step / pml_step, "marginrank_map_at_r": ours["metrics"]["map@r"],
                         "pml_map_at_r": theirs["metrics"]["map@r"], "marginrank_p_at_1": ours["metrics"]["precision@1"],
                         "pml_p_at_1": theirs["metrics"]["precision@1"]})
            print(f"  {loss_name} / {miner_name}, seed {seed}: step {1e3 * ours_step:.2f} vs {1e3 * pml_step:.2f} ms, "
                  f"MAP@R {ours['metrics']['map@r']:.4f} vs {theirs['metrics']['map@r']:.4f}", flush=True)
    return rows


def markdown(values: list[dict], training: list[dict], versions: dict) -> str:
    lines = [f"# Metric learning: marginrank vs pytorch-metric-learning {versions.get('pytorch-metric-learning')}", "",
             "## Loss values and mined triplets on the same embeddings", "",
             "| loss | miner | cases | max abs diff | triplets equal |", "|---|---|---|---|---|"]
    groups: dict[tuple[str, str], list[dict]] = {}
    for row in values:
        groups.setdefault((row["loss"], row["miner"]), []).append(row)
    for (loss, miner), rows in groups.items():
        equal = [r["same_triplets"] for r in rows if r["same_triplets"] is not None]
        lines.append(f"| {loss} | {miner} | {len(rows)} | {max(r['abs_diff'] for r in rows):.2e} | "
                     f"{f'{sum(equal)}/{len(equal)}' if equal else '-'} |")
    lines += ["", "## Training on digits 0-6, MAP@R on held-out digits 7-9 (same initial weights, same batches)", "",
              "| loss | miner | seeds | step ms marginrank | step ms PML | time ratio (median) | MAP@R marginrank | MAP@R PML |",
              "|---|---|---|---|---|---|---|---|"]
    cases: dict[tuple[str, str], list[dict]] = {}
    for row in training:
        cases.setdefault((row["loss"], row["miner"]), []).append(row)
    for (loss, miner), rows in cases.items():
        def mean(key: str) -> float:
            return statistics.mean(r[key] for r in rows)

        def spread(key: str) -> str:
            return f"{mean(key):.4f} ± {statistics.stdev(r[key] for r in rows):.4f}" if len(rows) > 1 else f"{mean(key):.4f}"
        lines.append(f"| {loss} | {miner} | {len(rows)} | {mean('marginrank_step_ms'):.2f} | {mean('pml_step_ms'):.2f} | "
                     f"{statistics.median(r['time_ratio'] for r in rows):.2f} | {spread('marginrank_map_at_r')} | {spread('pml_map_at_r')} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3)
    args = parser.parse_args(argv)
    env = ensure_venv(VENV, PINS, "import pytorch_metric_learning", ["torch", "pytorch-metric-learning"])
    if not env["ok"]:
        print(f"could not build the PML environment ({env['step']}):\n{env['error']}", file=sys.stderr)
        return 1
    split = load_digits((7, 8, 9))
    values = compare_values(split, args.seeds)
    training = compare_training(split, args.epochs, args.seeds)
    table = markdown(values, training, env["versions"])
    print(table)
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "metric_learning.md").write_text(table)
    (RESULTS / "metric_learning.json").write_text(json.dumps(
        {"versions": env["versions"], "epochs": args.epochs, "seeds": args.seeds, "values": values, "training": training,
         "machine": "2 shared CPU cores, one torch thread per side"}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
