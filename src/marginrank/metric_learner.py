"""Metric learning over labels as one object: ``MetricLearner(...).fit(X, y).transform(X)``.

Builds an :class:`~marginrank.models.encoder.MLPEncoder`, a :class:`~marginrank.training.tasks.LabelTask`
with a label miner, a loss, and trains them with the :class:`~marginrank.training.trainer.Trainer`:
evaluation by k-NN retrieval on held-out data (MAP@R picks the best epoch, early stopping), a
collapse check of the embeddings after every epoch, checkpoints and resume in ``run_dir``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from marginrank import losses
from marginrank.checks import require, require_choice, require_fraction, require_integer, require_non_negative, require_positive
from marginrank.errors import MarginRankError
from marginrank.guards.monitor import CollapseMonitor
from marginrank.losses.base import RankingLoss
from marginrank.models.encoder import MLPEncoder
from marginrank.sampling import label_miners
from marginrank.training.embedding_collapse import EmbeddingCollapseCheck
from marginrank.training.retrieval_evaluator import RetrievalEvaluator, embed
from marginrank.training.tasks import LabelTask
from marginrank.training.trainer import Trainer

FORMAT = "marginrank-metric-learner-1"
LABEL_LOSSES: dict[str, type[RankingLoss]] = {
    "triplet": losses.TripletMargin,
    "contrastive": losses.Contrastive,
    "multi-similarity": losses.MultiSimilarity,
}
MONITOR_SAMPLE = 512
DEFAULT_CLASSES_PER_BATCH = 8
OPTIMIZERS = ("adam", "sgd")


def label_loss(name: str, **params: Any) -> RankingLoss:
    """``"triplet"``, ``"contrastive"``, ``"multi-similarity"`` or any score loss of :func:`marginrank.losses.get`."""
    if name in LABEL_LOSSES:
        try:
            return LABEL_LOSSES[name](**params)
        except TypeError as error:
            raise MarginRankError(f"loss {name!r}: {error}") from None
    if name not in losses.available():
        raise MarginRankError(f"unknown loss {name!r}; choose one of: {', '.join(sorted(LABEL_LOSSES) + losses.available())}")
    return losses.get(name, **params)


class MetricLearner:
    """Learn embeddings whose nearest neighbours share a label.

    Args:
        loss, loss_params: see :func:`label_loss` ["triplet", margin 0.2].
        miner, miner_params: a name of :mod:`marginrank.sampling.label_miners`, or None: every
            anchor-positive pair with every negative, scored one row per anchor for a loss that works
            per anchor (multi-similarity) [None].
        similarity: ``"euclidean"`` | ``"cosine"`` | ``"dot"``, used in training and retrieval ["euclidean"].
        normalize: L2-normalize the embeddings [True].
        dim, hidden: embedding width [32] and hidden layers [(128,)].
        classes_per_batch, samples_per_class: the class-balanced batches [8, or every class where
            there are fewer; 4].
        epochs, lr, weight_decay: the training [30, 1e-3, 0].
        optimizer: ``"adam"`` or ``"sgd"`` (plain SGD, with ``momentum`` [0]) ["adam"].
        patience: early stopping after that many evaluations without a better MAP@R [None].
        seed, run_dir, progress: as in :class:`~marginrank.training.trainer.Trainer`.
    """

    def __init__(
        self,
        *,
        loss: str = "triplet",
        loss_params: dict[str, Any] | None = None,
        miner: str | None = None,
        miner_params: dict[str, Any] | None = None,
        similarity: str = "euclidean",
        normalize: bool = True,
        dim: int = 32,
        hidden: Sequence[int] = (128,),
        classes_per_batch: int | None = None,
        samples_per_class: int = 4,
        epochs: int = 30,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        optimizer: str = "adam",
        momentum: float = 0.0,
        patience: int | None = None,
        seed: int = 0,
        run_dir: str | Path | None = None,
        progress: bool = False,
    ) -> None:
        self.loss_name, self.loss_params = loss, dict({"margin": 0.2} if loss == "triplet" and loss_params is None else loss_params or {})
        self.miner_name, self.miner_params = miner, dict(miner_params or {})
        self.similarity, self.normalize = similarity, bool(normalize)
        self.dim, self.hidden = require_integer("dim", dim, 1), tuple(hidden)
        self.classes_per_batch, self.samples_per_class = classes_per_batch, samples_per_class
        self.epochs, self.lr = require_integer("epochs", epochs, 1), require_positive("lr", lr)
        self.weight_decay, self.patience, self.seed = require_non_negative("weight_decay", weight_decay), patience, seed
        self.optimizer = require_choice("optimizer", optimizer, OPTIMIZERS)
        self.momentum = require_fraction("momentum", momentum, include_zero=True)
        require(self.momentum == 0 or self.optimizer == "sgd", f"momentum applies to optimizer 'sgd' only; got optimizer {optimizer!r}")
        self.run_dir, self.progress = run_dir, progress
        label_loss(self.loss_name, **self.loss_params)
        require(miner is not None or not self.miner_params, "miner_params need a miner")
        self._miner()
        self.encoder_: MLPEncoder | None = None
        self.history_: list[dict[str, Any]] = []

    def fit(self, features: Any, labels: Any, *, validation: tuple[Any, Any] | None = None, resume: bool = False) -> MetricLearner:
        """Train on ``features [n, F]`` and integer ``labels [n]``; ``validation = (features, labels)``
        (e.g. held-out classes) is evaluated every epoch and its best MAP@R epoch kept."""
        x, y = _features(features), _labels(labels, features)
        torch.manual_seed(self.seed)
        encoder = MLPEncoder(x.shape[1], self.dim, self.hidden, normalize=self.normalize)
        loss = label_loss(self.loss_name, **self.loss_params)
        classes = self.classes_per_batch or min(DEFAULT_CLASSES_PER_BATCH, len(torch.unique(y)))
        task = LabelTask(x, y, classes_per_batch=classes, samples_per_class=self.samples_per_class,
                         miner=self._miner(), similarity=self.similarity, per_anchor=self.miner_name is None and loss.takes("pos_mask"))
        sample = torch.randperm(len(y), generator=torch.Generator().manual_seed(self.seed))[:MONITOR_SAMPLE]
        evaluator = None
        if validation is not None:
            vx, vy = _features(validation[0]), _labels(validation[1], validation[0])
            evaluator = RetrievalEvaluator(vx, vy, similarity=self.similarity)
        trainer = Trainer(
            encoder, task, loss,
            self._optimizer(encoder.parameters()),
            evaluator=evaluator, monitor="map@r", patience=self.patience, seed=self.seed, run_dir=self.run_dir,
            progress=self.progress, callbacks=[EmbeddingCollapseCheck(CollapseMonitor(), x[sample], y[sample])],
        )
        result = trainer.fit(self.epochs, resume=resume)
        trainer.restore_best()
        self.encoder_, self.history_ = encoder.eval(), result.history
        return self

    def transform(self, features: Any) -> np.ndarray:
        """Embeddings ``[n, dim]`` of ``features``."""
        return embed(self._fitted(), _features(features)).numpy()

    def evaluate(self, features: Any, labels: Any, ks: Sequence[int] = (1, 2, 4, 8)) -> dict[str, float]:
        """Retrieval metrics of the embedded ``features`` (each queries the others)."""
        return RetrievalEvaluator(_features(features), _labels(labels, features), similarity=self.similarity, ks=ks)(self._fitted())

    def save(self, path: str | Path) -> None:
        torch.save({"format": FORMAT, "settings": self._settings(), "encoder": self._fitted().settings(),
                    "weights": self._fitted().state_dict()}, Path(path))

    @classmethod
    def load(cls, path: str | Path) -> MetricLearner:
        saved = torch.load(Path(path), weights_only=True)
        if not isinstance(saved, dict) or saved.get("format") != FORMAT:
            raise MarginRankError(f"not a saved MetricLearner ({FORMAT})", path=str(path))
        learner = cls(**saved["settings"])
        learner.encoder_ = MLPEncoder(**saved["encoder"])
        learner.encoder_.load_state_dict(saved["weights"])
        learner.encoder_.eval()
        return learner

    def _settings(self) -> dict[str, Any]:
        return {"loss": self.loss_name, "loss_params": self.loss_params, "miner": self.miner_name, "miner_params": self.miner_params,
                "similarity": self.similarity, "normalize": self.normalize, "dim": self.dim, "hidden": list(self.hidden),
                "classes_per_batch": self.classes_per_batch, "samples_per_class": self.samples_per_class, "epochs": self.epochs,
                "lr": self.lr, "weight_decay": self.weight_decay, "optimizer": self.optimizer, "momentum": self.momentum, "patience": self.patience, "seed": self.seed}

    def _miner(self) -> label_miners.LabelMiner | None:
        return None if self.miner_name is None else label_miners.get(self.miner_name, seed=self.seed, **self.miner_params)

    def _optimizer(self, parameters: Iterable[torch.nn.Parameter]) -> torch.optim.Optimizer:
        if self.optimizer == "sgd":
            return torch.optim.SGD(parameters, lr=self.lr, momentum=self.momentum, weight_decay=self.weight_decay)
        return torch.optim.Adam(parameters, lr=self.lr, weight_decay=self.weight_decay)

    def _fitted(self) -> MLPEncoder:
        if self.encoder_ is None:
            raise MarginRankError("the MetricLearner is not fitted: call fit(X, y) first")
        return self.encoder_


def _features(values: Any) -> torch.Tensor:
    x = torch.as_tensor(np.asarray(values, dtype=np.float32))
    require(x.dim() == 2 and len(x) > 0 and bool(torch.isfinite(x).all()), f"features must be a finite [n, F] array; got shape {list(x.shape)}")
    return x


def _labels(values: Any, features: Any) -> torch.Tensor:
    y = np.asarray(values)
    require(y.ndim == 1 and len(y) == len(features) and np.issubdtype(y.dtype, np.integer),
            f"labels must be {len(features)} integers, one per row of features")
    return torch.as_tensor(y, dtype=torch.int64)
