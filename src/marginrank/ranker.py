"""Learning to rank over features: ``Ranker().fit(X, y, group)``, ``.predict(X)``, as LightGBM's
``LGBMRanker``, with the library's losses, guards and training loop.

A scorer ``s(x)`` (an :class:`~marginrank.models.MLPScorer` by default, or any ``nn.Module`` mapping
``[n, F]`` features to ``[n]`` scores) is trained on grouped candidate lists: within a group, every
row is a positive against the rows labelled below it (:class:`~marginrank.training.GroupTask`).
Early stopping watches NDCG@10 on a share of the groups held out of training.
"""

from __future__ import annotations

import copy
import json
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from marginrank.checks import (
    require, require_choice, require_fraction, require_integer, require_non_negative, require_optional, require_positive,
)
from marginrank.data.groups import RankingGroups
from marginrank.errors import MarginRankError
from marginrank.guards.monitor import CollapseMonitor
from marginrank.guards.norm_constraint import NormConstraint
from marginrank.losses import registry as loss_registry
from marginrank.losses.base import RankingLoss
from marginrank.losses.weighted import Weighted
from marginrank.metrics.groups import DEFAULT_CUTOFFS, group_metrics
from marginrank.models.ensemble import ScoreEnsemble
from marginrank.models.mlp import ACTIVATIONS, MLPScorer
from marginrank.models.standardized import Standardized
from marginrank.sampling.miners.base import Miner
from marginrank.training.callbacks import ScoreCollapseCheck
from marginrank.training.checkpoint import load_checkpoint, require_entries, save_checkpoint
from marginrank.training.tasks.groups import ROW_WEIGHTS, GroupTask, ranked_groups
from marginrank.training.trainer import Trainer

MODEL_FORMAT = "marginrank-ranker-1"
DEFAULT_LOSS_PARAMS = {"softmax": {"temperature": 1.0}}
OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {"adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}


@dataclass
class RankerParams:
    """The settings of a :class:`Ranker` (see its docstring), plain values only, as saved with a model."""

    loss: str = "softmax"
    loss_params: dict[str, Any] | None = None
    hidden: tuple[int, ...] = (128,)
    activation: str = "relu"
    normalize_output: bool = False
    output_scale: float = 10.0
    standardize_features: bool = True
    weights: str = "ndcg"
    standardize_scores: bool = False
    max_norm: float | None = None
    epochs: int = 100
    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-2
    groups_per_batch: int = 16
    validation: float | None = 0.2
    patience: int | None = 10
    monitor: str = "ndcg@10"
    ks: tuple[int, ...] = DEFAULT_CUTOFFS
    on_collapse: str = "warn"
    n_models: int = 5
    seed: int = 0

    def check(self) -> None:
        require_choice("activation", self.activation, ACTIVATIONS)
        require(all(isinstance(w, int) and w >= 1 for w in self.hidden), f"hidden widths must be positive integers; got {self.hidden}")
        require_positive("output_scale", self.output_scale)
        require_optional("max_norm", self.max_norm, require_positive)
        require_integer("epochs", self.epochs, 1)
        require_choice("optimizer", self.optimizer, OPTIMIZERS)
        require_positive("lr", self.lr)
        require_non_negative("weight_decay", self.weight_decay)
        require_integer("groups_per_batch", self.groups_per_batch, 1)
        require_optional("validation", self.validation, require_fraction)
        require_optional("patience", self.patience, require_integer, 1)
        require_choice("on_collapse", self.on_collapse, ("warn", "stop"))
        require_choice("weights", self.weights, ROW_WEIGHTS)
        require_integer("n_models", self.n_models, 1)
        require_integer("seed", self.seed, 0)
        names = {f"ndcg@{k}" for k in self.ks} | {f"precision@{k}" for k in self.ks} | {"map", "mrr"}
        require(self.monitor in names, f"monitor must be one of {', '.join(sorted(names))}; got {self.monitor!r}")


class Ranker:
    """Train a scorer ``s(x)`` over grouped candidate lists; rank each group's rows by ``s``.

    Args:
        loss: a loss name (``marginrank.losses.available()``: ``"softmax"`` [default], ``"mmcl"``,
            ``"ccl"``, ``"bpr"``, ``"hinge"``, ``"max_margin"``, ...) or a built ``RankingLoss``.
        loss_params: the named loss's settings, e.g. ``{"margin": 0.5}``; unset: the loss's own
            defaults, but softmax at temperature 1 (an unbounded scorer sets its own scale).
        scorer: any ``nn.Module`` mapping features ``[n, F]`` to scores ``[n]``; by default an
            :class:`MLPScorer` of ``hidden`` widths [(128,)] (``()``: a linear scorer), ``activation``,
            and, with ``normalize_output``, a bounded cosine head of ``output_scale``.
        standardize_features: score ``(x - mean) / std`` with the training rows' statistics [True].
        weights: what each positive row weighs in the loss: ``"ndcg"`` [default; its share of its
            group's ideal DCG], ``"gain"`` (``2^rel - 1``) or ``"none"``
            (:func:`~marginrank.training.tasks.groups.row_weights`).
        standardize_scores: the loss sees each group's scores as z-scores [False] (a collapse guard).
        max_norm: keep every row of the scorer's weight matrices at this norm (a collapse guard) [None].
        epochs, optimizer, lr, weight_decay, groups_per_batch: [100, ``"adamw"`` (or ``"sgd"``), 1e-3,
            1e-2, 16].
        validation: share of the groups held out for early stopping on ``monitor`` [0.2; None: train
            on every group for ``epochs`` epochs and keep the last].
        n_models: scorers trained, each with its own seed and held-out groups, whose standardized
            scores are averaged (:class:`~marginrank.models.ScoreEnsemble`) [5]: on small sets
            a single scorer's quality varies with its seed by more than the differences of losses.
        patience: evaluations without improvement before stopping [10].
        monitor: ``"ndcg@10"`` [default], ``"ndcg@k"``/``"precision@k"`` for k in ``ks``, ``"map"``, ``"mrr"``.
        seed: scorer ``m`` (from 0) draws its initial weights, batches and held-out groups from
            ``seed + m`` [0].
        on_collapse: the collapse check on held-out groups, every epoch: ``"warn"`` or ``"stop"``.
        miner: picks each positive's negatives among its lower-labelled rows (``marginrank.sampling.miners``).
        run_dir: folder for ``log.jsonl`` and checkpoints (resume with ``fit(..., resume=True)``).
        progress: one line per epoch on stderr [False].

    Attributes after ``fit``: ``model_`` (the scorer, or the ensemble), ``members_`` (per scorer:
    ``history``, ``best_epoch``, ``best_metrics`` on its validation groups, ``stopped``),
    ``best_metrics_`` (the members' validation metrics, averaged).
    """

    def __init__(
        self,
        loss: str | RankingLoss = "softmax",
        *,
        scorer: nn.Module | None = None,
        miner: Miner | None = None,
        run_dir: str | os.PathLike | None = None,
        progress: bool = False,
        **settings: Any,
    ) -> None:
        unknown = sorted(set(settings) - set(RankerParams.__dataclass_fields__))
        if unknown:
            raise MarginRankError(f"Ranker has no setting {', '.join(unknown)}; it has: {', '.join(RankerParams.__dataclass_fields__)}")
        self.loss = loss
        self.params = RankerParams(loss=loss if isinstance(loss, str) else type(loss).__name__, **settings)
        self.params.hidden, self.params.ks = tuple(self.params.hidden), tuple(self.params.ks)
        self.params.check()
        self.scorer, self.miner = scorer, miner
        self.run_dir, self.progress = run_dir, progress
        self.model_: nn.Module | None = None

    # ------------------------------------------------------------------------------- training
    def fit(
        self, X: RankingGroups | Any, y: Any = None, group: Sequence[int] | None = None, *,
        eval_set: RankingGroups | None = None, resume: bool = False,
    ) -> Ranker:
        """Train on ``X`` (a :class:`RankingGroups`, or features ``[R, F]`` with labels ``y [R]`` and
        group sizes ``group``, LightGBM's layout). ``eval_set``: groups to stop early on and to check
        for collapse, in place of a ``validation`` share of ``X``. ``resume``: continue each scorer
        from its checkpoint in ``run_dir`` where it has one (scorers not begun start afresh)."""
        data = self._groups(X, y, group)
        p = self.params
        models, self.members_ = [], []
        for member in range(p.n_models):
            model, record = self._fit_member(data, eval_set, p.seed + member, self._member_dir(member), resume)
            models.append(model)
            self.members_.append(record)
        self.model_ = models[0] if len(models) == 1 else ScoreEnsemble(models, data.features)
        self.model_.eval()
        self.n_features_ = data.n_features
        validated = [record["best_metrics"] for record in self.members_ if record["best_metrics"]]
        self.best_metrics_ = {key: float(np.mean([m[key] for m in validated])) for key in validated[0]} if validated else {}
        return self

    def _member_dir(self, member: int) -> Path | None:
        if self.run_dir is None or self.params.n_models == 1:
            return None if self.run_dir is None else Path(self.run_dir)
        return Path(self.run_dir) / f"model-{member + 1}"

    def _fit_member(
        self, data: RankingGroups, eval_set: RankingGroups | None, seed: int, run_dir: Path | None, resume: bool
    ) -> tuple[nn.Module, dict]:
        """One scorer, trained with ``seed`` on ``data`` less its own validation split (or on all of
        ``data``, watching ``eval_set``)."""
        p = self.params
        if eval_set is not None:
            require(isinstance(eval_set, RankingGroups) and eval_set.n_features == data.n_features,
                    f"eval_set must be RankingGroups of {data.n_features} features")
            train, held = data, eval_set
        else:
            train, held = data.split(p.validation, seed) if p.validation is not None else (data, None)
        torch.manual_seed(seed)
        model = self._build(train)
        loss = self._loss()
        task = GroupTask(train, groups_per_batch=p.groups_per_batch, weights=p.weights,
                         standardize_scores=p.standardize_scores, miner=self.miner)
        probe = GroupTask(held if held is not None and len(ranked_groups(held)) else train,
                          standardize_scores=p.standardize_scores)  # the scores the loss sees
        trainer = Trainer(
            model, task, loss, OPTIMIZERS[p.optimizer](model.parameters(), lr=p.lr, weight_decay=p.weight_decay),
            evaluator=None if held is None else (lambda m: self._metrics(m, held)),
            monitor=p.monitor, patience=p.patience if held is not None else None,
            constraints=[self._norm_constraint(model)] if p.max_norm is not None else [],
            callbacks=[ScoreCollapseCheck(CollapseMonitor(margin=loss.margin),
                                          lambda m: probe.scores(m, probe.trainable, torch.device("cpu")),
                                          margin=loss.margin, on_collapse=p.on_collapse)],
            run_dir=run_dir, seed=seed, progress=self.progress, progress_bar=False,
            evaluated_on="validation", tags={"loss": p.loss, "seed": seed},
        )
        result = trainer.fit(p.epochs, resume=resume and run_dir is not None and (run_dir / "last.pt").exists())
        trainer.restore_best()
        model.eval()
        return model, {"history": result.history, "best_epoch": result.best_epoch,
                       "best_metrics": result.best_metrics, "stopped": result.stopped}

    def _groups(self, X: Any, y: Any, group: Sequence[int] | None) -> RankingGroups:
        if isinstance(X, RankingGroups):
            require(y is None and group is None, "pass either RankingGroups, or features with labels y and group sizes")
            return X
        require(y is not None and group is not None, "fit(X, y, group): give the labels y and the group sizes group")
        return RankingGroups.from_arrays(X, y, group)

    def _build(self, train: RankingGroups) -> nn.Module:
        """A fresh scorer for ``train``'s features (standardized by their statistics where set)."""
        p = self.params
        scorer = copy.deepcopy(self.scorer) if self.scorer is not None else MLPScorer(
            train.n_features, p.hidden, activation=p.activation, normalize_output=p.normalize_output, output_scale=p.output_scale)
        return Standardized(scorer, train.features) if p.standardize_features else scorer

    def _loss(self) -> RankingLoss:
        if isinstance(self.loss, RankingLoss):
            loss = copy.deepcopy(self.loss)
        else:
            params = self.params.loss_params
            loss = loss_registry.get(self.loss, **(DEFAULT_LOSS_PARAMS.get(self.loss, {}) if params is None else params))
        return loss if self.params.weights == "none" else Weighted(loss)

    def _norm_constraint(self, model: nn.Module) -> NormConstraint:
        names = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
        return NormConstraint(self.params.max_norm, exact=True, parameter_names=[f"{name}.weight" for name in names])

    def _metrics(self, model: nn.Module, groups: RankingGroups) -> dict[str, float]:
        with torch.no_grad():
            return group_metrics(model(groups.features), groups, self.params.ks)

    # ----------------------------------------------------------------------------------- use
    def _fitted(self) -> nn.Module:
        if self.model_ is None:
            raise MarginRankError("this Ranker is not fitted: call fit(X, y, group) first")
        return self.model_

    def predict(self, X: RankingGroups | Any) -> np.ndarray:
        """Scores ``[R]`` of the rows of ``X`` (features ``[R, F]`` or :class:`RankingGroups`); rank
        each group's rows by them, highest first."""
        model = self._fitted()
        features = X.features if isinstance(X, RankingGroups) else torch.as_tensor(np.asarray(X, dtype=np.float32))
        expected = self.n_features_
        if features.dim() != 2 or features.shape[1] != expected:
            raise MarginRankError(f"expected features [R, {expected}]; got {list(features.shape)}")
        with torch.no_grad():
            return model(features).double().numpy()

    def score(self, X: RankingGroups | Any, y: Any = None, group: Sequence[int] | None = None) -> dict[str, float]:
        """Per-group metrics of the predictions on ``X`` (NDCG@k, Precision@k, MAP, MRR)."""
        data = self._groups(X, y, group)
        return group_metrics(self.predict(data), data, self.params.ks)

    # --------------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """One file of tensors and plain values (a custom scorer's weights only), written atomically."""
        model = self._fitted()
        save_checkpoint({"format": MODEL_FORMAT, "params": json.dumps(asdict(self.params)), "model": model.state_dict(),
                         "n_features": self.n_features_, "custom_scorer": self.scorer is not None,
                         "metrics": json.dumps(self.best_metrics_)}, path)

    @classmethod
    def load(cls, path: str | os.PathLike, *, scorer: nn.Module | None = None) -> Ranker:
        """A saved Ranker; one trained with a custom ``scorer`` needs a scorer of the same shape."""
        state = load_checkpoint(path)
        if state.get("format") != MODEL_FORMAT:
            raise MarginRankError(f"not a saved Ranker (format {state.get('format')!r})", path=str(path))
        require_entries(state, ("params", "model", "n_features", "custom_scorer", "metrics"), path)
        if state["custom_scorer"] and scorer is None:
            raise MarginRankError("saved with a custom scorer: load it with Ranker.load(path, scorer=<a module like it>)", path=str(path))
        params = json.loads(state["params"])
        ranker = cls(scorer=scorer, **params)
        n_features = int(state["n_features"])
        blank = RankingGroups.from_arrays(torch.zeros(1, n_features), [0.0], [1])
        members = [ranker._build(blank) for _ in range(ranker.params.n_models)]
        ranker.model_ = members[0] if len(members) == 1 else ScoreEnsemble(members, blank.features)
        try:
            ranker.model_.load_state_dict(state["model"])
        except RuntimeError as error:
            raise MarginRankError(f"saved weights do not fit the saved settings: {str(error).splitlines()[0]}", path=str(path)) from None
        ranker.model_.eval()
        ranker.n_features_ = n_features
        ranker.best_metrics_ = json.loads(state["metrics"])
        return ranker
