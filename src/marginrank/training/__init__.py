"""Training: batches of pairs, the epoch loop, optimizers, evaluation and checkpoints."""

from marginrank.training.averaging import WeightAverage
from marginrank.training.batches import PairBatches
from marginrank.training.checkpoint import load_checkpoint, save_checkpoint
from marginrank.training.evaluator import Evaluator
from marginrank.training.optimizers import OPTIMIZERS, make_optimizer
from marginrank.training.schedules import cosine_decay
from marginrank.training.top_k_quantile import TopKQuantile
from marginrank.training.trainer import CollapseStop, CollapseWarning, Trainer, TrainResult

__all__ = [
    "OPTIMIZERS",
    "CollapseStop",
    "CollapseWarning",
    "Evaluator",
    "PairBatches",
    "TopKQuantile",
    "TrainResult",
    "Trainer",
    "WeightAverage",
    "cosine_decay",
    "load_checkpoint",
    "make_optimizer",
    "save_checkpoint",
]
