"""Training: the loop, its tasks and callbacks, batches of pairs, optimizers, evaluation and checkpoints."""

from marginrank.training.averaging import WeightAverage
from marginrank.training.batches import PairBatches
from marginrank.training.callbacks import (
    Callback,
    CollapseCheck,
    CollapseStop,
    CollapseWarning,
    LearningRateReplay,
    ScoreCollapseCheck,
    TopKRefresh,
)
from marginrank.training.checkpoint import load_checkpoint, save_checkpoint
from marginrank.training.evaluator import Evaluator
from marginrank.training.optimizers import OPTIMIZERS, make_optimizer
from marginrank.training.schedules import cosine_decay
from marginrank.training.tasks import GroupTask, InteractionTask, Scores, Task
from marginrank.training.top_k_quantile import TopKQuantile
from marginrank.training.trainer import Trainer, TrainResult

__all__ = [
    "OPTIMIZERS",
    "Callback",
    "CollapseCheck",
    "CollapseStop",
    "CollapseWarning",
    "Evaluator",
    "GroupTask",
    "InteractionTask",
    "LearningRateReplay",
    "PairBatches",
    "ScoreCollapseCheck",
    "Scores",
    "Task",
    "TopKQuantile",
    "TopKRefresh",
    "TrainResult",
    "Trainer",
    "WeightAverage",
    "cosine_decay",
    "load_checkpoint",
    "make_optimizer",
    "save_checkpoint",
]
