"""Training tasks: how a task's batches become scores for a loss (:mod:`.base`)."""

from marginrank.training.tasks.base import Scores, Task
from marginrank.training.tasks.groups import GroupTask
from marginrank.training.tasks.interactions import InteractionTask
from marginrank.training.tasks.labels import LabelTask

__all__ = ["GroupTask", "InteractionTask", "LabelTask", "Scores", "Task"]
