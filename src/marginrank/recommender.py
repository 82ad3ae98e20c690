"""``Recommender``: the scikit-learn / implicit shaped entry point.

>>> from marginrank import Recommender, datasets
>>> data = datasets.load("synthetic", n_users=300, n_items=200)
>>> rec = Recommender(loss="mmcl", negatives=50, epochs=2, progress=False).fit(data)
>>> items, scores = rec.recommend([0, 1], k=5)
>>> items.shape
(2, 5)

It turns plain arguments into the library's objects (model, loss, sampler, optimizer, trainer)
and keeps the raw-id maps, so ``recommend`` takes and returns the ids of the source data.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import Field, asdict, dataclass, field, fields
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from marginrank import losses
from marginrank.atomic import atomic_write_text
from marginrank.data import Dataset, Interactions, holdout_split
from marginrank.data.interactions import id_index, lookup_ids
from marginrank.errors import MarginRankError, SettingError
from marginrank.guards import CollapseMonitor, NormConstraint
from marginrank.metrics import evaluate_popularity
from marginrank.metrics.full_ranking import cut_offs
from marginrank.metrics.ranking import METRICS
from marginrank.models import registry as models
from marginrank.models.base import EmbeddingModel
from marginrank.sampling import InBatchNegatives, PopularitySampler, UniformSampler
from marginrank.sampling.miners import registry as miners
from marginrank.sampling.source import NegativeSource
from marginrank.training.batches import POSITIVE_SAMPLING
from marginrank.training.callbacks import CollapseCheck, TopKRefresh
from marginrank.training.checkpoint import load_checkpoint, require_entries, save_checkpoint
from marginrank.training.distributed import ProcessGroup, from_environment
from marginrank.training.evaluator import Evaluator
from marginrank.training.optimizers import OPTIMIZERS, make_optimizer
from marginrank.training.schedules import cosine_decay
from marginrank.training.tasks import InteractionTask
from marginrank.training.top_k_quantile import TopKQuantile
from marginrank.training.trainer import Trainer, TrainResult

PROTOCOLS = ("validation", "paper", "none")
LR_SCHEDULES = ("plateau", "cosine")
SAMPLERS = ("uniform", "popularity", "in-batch")
MODEL_FORMAT = "marginrank-recommender-2"
MF_ONLY_FORMAT = "marginrank-recommender-1"
TOP_K_SAMPLES = 1000  # items drawn per user to estimate the top-K thresholds (SL@K's N)


@dataclass
class RecommenderParams:
    """Every setting of a :class:`Recommender`, with its default (all plain values).

    ``dim``, ``similarity``, ``dropout``, ``init_std`` and ``sparse`` are the embedding settings
    every model takes; ``model_params`` holds the chosen model's own (LightGCN's ``layers``, MF's
    ``dropout_before_norm``). ``miner_params`` and ``loss_params`` likewise belong to the chosen
    miner and loss.
    """

    model: str = "mf"
    model_params: dict[str, Any] = field(default_factory=dict)
    loss: str = "mmcl"
    loss_params: dict[str, Any] = field(default_factory=dict)
    negatives: int = 100
    shared_negatives: bool = False
    group_size: int | None = None
    sampler: str = "uniform"  # or "popularity", "in-batch"
    miner: str | None = None
    miner_params: dict[str, Any] = field(default_factory=dict)
    popularity_alpha: float = 0.75
    exclude_positives: bool = True
    log_q_correction: bool = False
    top_k_weight: int = 0
    top_k_weight_temperature: float = 1.0
    top_k_refresh_every: int = 20
    dim: int = 64
    similarity: str = "cosine"
    dropout: float = 0.1
    init_std: float = 1e-4
    optimizer: str = "adam"
    lr: float = 1e-3
    sparse: bool = False
    batch_size: int = 1024
    positive_sampling: str = "pairs"  # or "users"
    epochs: int = 20
    l2: float = 0.0
    clip_norm: float | None = None
    max_norm: float | None = None
    protocol: str = "validation"
    valid_ratio: float = 0.1
    eval_every: int = 1
    ks: tuple[int, ...] = (20,)
    monitor: str = "recall@20"
    patience: int | None = 5
    lr_schedule: str = "plateau"
    lr_patience: int | None = None
    lr_factor: float = 0.1
    restore_best_on_lr_cut: bool = False
    average_decay: float | None = None
    min_lr: float = 1e-6
    collapse_check: bool = True
    on_collapse: str = "warn"
    time_limit: float | None = None
    seed: int = 0
    progress: bool = True
    device: str = "cpu"

    def __post_init__(self) -> None:
        for setting in fields(self):
            setattr(self, setting.name, _typed(setting, getattr(self, setting.name)))
        monitor_problem = _monitor_problem(self.monitor, self.ks)
        checks = [
            ("protocol", self.protocol in PROTOCOLS, f"protocol must be one of {', '.join(PROTOCOLS)}, got {self.protocol!r}"),
            ("sampler", self.sampler in SAMPLERS, f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}"),
            ("model", self.model in models.MODELS, f"model must be one of {', '.join(models.available())}, got {self.model!r}"),
            ("miner", self.miner is None or self.miner in miners.MINERS,
             f"miner must be one of {', '.join(miners.available())} or unset, got {self.miner!r}"),
            ("similarity", self.similarity in ("cosine", "dot"), f"similarity must be 'cosine' or 'dot', got {self.similarity!r}"),
            ("negatives", self.negatives >= 1, f"negatives must be at least 1, got {self.negatives}"),
            ("top_k_weight", 0 <= self.top_k_weight <= TOP_K_SAMPLES,
             f"top_k_weight must be 0 (off) or a cut-off K up to {TOP_K_SAMPLES}, got {self.top_k_weight}"),
            ("top_k_weight_temperature", self.top_k_weight_temperature > 0,
             f"top_k_weight_temperature must be > 0, got {self.top_k_weight_temperature}"),
            ("top_k_refresh_every", self.top_k_refresh_every >= 1,
             f"top_k_refresh_every must be at least 1 epoch, got {self.top_k_refresh_every}"),
            ("dim", self.dim >= 1, f"dim must be at least 1, got {self.dim}"),
            ("epochs", self.epochs >= 1, f"epochs must be at least 1, got {self.epochs}"),
            ("dropout", 0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            ("valid_ratio", 0.0 < self.valid_ratio < 1.0, f"valid_ratio must be in (0, 1), got {self.valid_ratio}"),
            ("l2", self.l2 >= 0, f"l2 must be >= 0, got {self.l2}"),
            ("ks", len(self.ks) > 0 and all(k >= 1 for k in self.ks), f"ks must be one or more positive cut-offs, got {self.ks}"),
            ("device", _is_device(self.device), f"device must be 'cpu', 'cuda' or 'cuda:N', got {self.device!r}"),
            ("lr", self.lr > 0, f"learning rate must be positive, got {self.lr}"),
            ("batch_size", self.batch_size >= 1, f"batch_size must be at least 1, got {self.batch_size}"),
            ("positive_sampling", self.positive_sampling in POSITIVE_SAMPLING,
             f"positive_sampling must be one of {', '.join(POSITIVE_SAMPLING)}, got {self.positive_sampling!r}"),
            ("optimizer", self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}"),
            ("on_collapse", self.on_collapse in ("warn", "stop"), f"on_collapse must be 'warn' or 'stop', got {self.on_collapse!r}"),
            ("average_decay", self.average_decay is None or 0.0 < self.average_decay < 1.0,
             f"average_decay must be in (0, 1) or unset, got {self.average_decay}"),
            ("eval_every", self.eval_every >= 1, f"eval_every must be at least 1, got {self.eval_every}"),
            ("patience", self.patience is None or self.patience >= 1,
             f"patience must be >= 1 (evaluations without improvement before stopping) or unset, got {self.patience}"),
            ("lr_schedule", self.lr_schedule in LR_SCHEDULES, f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}"),
            ("lr_patience", self.lr_patience is None or self.lr_patience >= 0, f"lr_patience must be >= 0 or unset, got {self.lr_patience}"),
            ("lr_patience", self.lr_schedule == "plateau" or self.lr_patience is None,
             f"lr_patience drives the plateau schedule; unset it for lr_schedule {self.lr_schedule!r}"),
            ("restore_best_on_lr_cut", self.lr_schedule == "plateau" or not self.restore_best_on_lr_cut,
             f"restore_best_on_lr_cut acts on the plateau schedule's cuts, not on lr_schedule {self.lr_schedule!r}"),
            ("lr_factor", 0.0 < self.lr_factor < 1.0, f"lr_factor must be in (0, 1), got {self.lr_factor}"),
            ("min_lr", self.min_lr >= 0, f"min_lr must be >= 0, got {self.min_lr}"),
            ("min_lr", self.lr_schedule != "cosine" or self.min_lr <= self.lr,
             f"min_lr {self.min_lr} is above lr {self.lr}: the cosine schedule anneals from lr down to min_lr"),
            ("time_limit", self.time_limit is None or self.time_limit > 0, f"time_limit must be > 0 seconds or unset, got {self.time_limit}"),
            ("clip_norm", self.clip_norm is None or self.clip_norm > 0, f"clip_norm must be > 0 or unset, got {self.clip_norm}"),
            ("seed", self.seed >= 0, f"seed must be >= 0, got {self.seed}"),
            ("init_std", self.init_std > 0, f"init_std must be > 0, got {self.init_std}"),
            ("max_norm", self.max_norm is None or self.max_norm > 0, f"max_norm must be > 0 or unset, got {self.max_norm}"),
            ("group_size", self.group_size is None or self.group_size >= 1, f"group_size must be at least 1 or unset, got {self.group_size}"),
            ("group_size", self.group_size is None or self.shared_negatives,
             "group_size applies to shared negatives only (shared_negatives = true)"),
            ("monitor", monitor_problem is None, monitor_problem or ""),
        ]
        for setting, ok, message in checks:
            if not ok:
                raise SettingError(setting, message)
        try:  # an unknown loss or parameter fails here, before any work
            loss = losses.get(self.loss, **self.loss_params)
        except MarginRankError as error:
            unknown_loss = str(self.loss).strip().lower() not in losses.available()
            raise SettingError("loss" if unknown_loss else "loss_params", str(error)) from None
        if self.log_q_correction and not loss.takes("neg_log_prob"):
            raise SettingError("log_q_correction", f"the log-Q correction needs a softmax loss; {self.loss!r} takes no log-probabilities")
        if self.log_q_correction and (self.miner is not None or self.sampler == "in-batch"):
            raise SettingError("log_q_correction", "the log-Q correction corrects drawn negatives; mined and in-batch ones have no proposal")
        for setting, check in (("model_params", lambda: models.check_params(self.model, self.model_params)),
                               ("miner_params", lambda: self.miner and miners.get(self.miner, **self.miner_params))):
            try:
                check()
            except MarginRankError as error:
                raise SettingError(setting, str(error)) from None


_KINDS = {"int": Integral, "float": Real, "str": str, "bool": bool}


def field_kind(setting: Field) -> str:
    """A setting's annotation as text without spaces, e.g. ``"int|None"``."""
    return str(setting.type).replace(" ", "")


def _typed(setting: Field, value: Any) -> Any:
    """``value`` as the plain Python type ``setting`` declares (numpy numbers welcome); a value of
    another type, or a float that is not finite, is a :class:`SettingError` naming the setting."""
    kind = field_kind(setting)
    if kind.endswith("|None") and value is None:
        return None
    base, name = kind.split("|")[0], setting.name
    if base in _KINDS:
        if not isinstance(value, _KINDS[base]) or (base != "bool" and isinstance(value, (bool, np.bool_))):
            raise SettingError(name, f"setting {name!r} must be {base}, got {value!r}")
        if base == "float" and not math.isfinite(value):
            raise SettingError(name, f"setting {name!r} must be a finite number, got {value!r}")
        return {"int": int, "float": float}.get(base, lambda plain: plain)(value)
    if base.startswith("tuple"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, Integral) and not isinstance(v, bool) for v in value):
            raise SettingError(name, f"setting {name!r} must be a list of integers, got {value!r}")
        return tuple(int(v) for v in value)
    if base.startswith("dict") and not isinstance(value, dict):
        raise SettingError(name, f"setting {name!r} must be a table, got {value!r}")
    return value


def _monitor_problem(monitor: str, ks: tuple[int, ...]) -> str | None:
    """Why ``monitor`` (``name@k``) cannot pick the best epoch with cut-offs ``ks``, or None."""
    name, _, k = str(monitor).partition("@")
    if name not in METRICS or not k.isdigit():
        return f"monitor must be a metric@k such as 'recall@20' (metrics: {', '.join(METRICS)}), got {monitor!r}"
    if int(k) not in ks:
        return f"monitor {monitor!r} needs {k} among the cut-offs ks {list(ks)}; add it, or monitor one of those"
    return None


def _is_device(name: object) -> bool:
    """Whether ``name`` is a device string torch understands."""
    if not isinstance(name, str):
        return False
    try:
        torch.device(name)
    except RuntimeError:
        return False
    return True


class Recommender:
    """Fit an embedding model with a margin/contrastive loss; recommend, evaluate, save, load.

    The arguments are the settings of :class:`RecommenderParams` (the typed, checked form they take
    here and in config files). ``model`` names a registered model (``"mf"``, ``"lightgcn"``;
    :mod:`marginrank.models.registry`) and ``model_params`` its own settings. ``fit`` takes a
    :class:`Dataset` (train and test) or training :class:`Interactions`. With
    ``protocol="validation"`` (default) 10% of each user's training items are held out to pick the
    best epoch and stop early; ``"paper"`` monitors the test split, as published LightGCN, SimpleX
    and MMCL numbers do: that is optimistic, and every output says so.
    """

    def __init__(
        self,
        *,
        model: str = "mf",
        model_params: dict[str, Any] | None = None,
        loss: str = "mmcl",
        loss_params: dict[str, Any] | None = None,
        negatives: int = 100,
        shared_negatives: bool = False,
        group_size: int | None = None,
        sampler: str = "uniform",
        miner: str | None = None,
        miner_params: dict[str, Any] | None = None,
        popularity_alpha: float = 0.75,
        exclude_positives: bool = True,
        log_q_correction: bool = False,
        top_k_weight: int = 0,
        top_k_weight_temperature: float = 1.0,
        top_k_refresh_every: int = 20,
        dim: int = 64,
        similarity: str = "cosine",
        dropout: float = 0.1,
        init_std: float = 0.0001,
        optimizer: str = "adam",
        lr: float = 0.001,
        sparse: bool = False,
        batch_size: int = 1024,
        positive_sampling: str = "pairs",
        epochs: int = 20,
        l2: float = 0.0,
        clip_norm: float | None = None,
        max_norm: float | None = None,
        protocol: str = "validation",
        valid_ratio: float = 0.1,
        eval_every: int = 1,
        ks: tuple[int, ...] = (20,),
        monitor: str = "recall@20",
        patience: int | None = 5,
        lr_schedule: str = "plateau",
        lr_patience: int | None = None,
        lr_factor: float = 0.1,
        restore_best_on_lr_cut: bool = False,
        average_decay: float | None = None,
        min_lr: float = 1e-06,
        collapse_check: bool = True,
        on_collapse: str = "warn",
        time_limit: float | None = None,
        seed: int = 0,
        progress: bool = True,
        device: str = "cpu",
    ) -> None:
        settings = {name: value for name, value in locals().items() if name != "self"}
        for name in ("model_params", "loss_params", "miner_params"):
            settings[name] = {} if settings[name] is None else settings[name]
        self.params = RecommenderParams(**settings)
        self.model: EmbeddingModel | None = None
        self.user_ids: np.ndarray | None = None
        self.item_ids: np.ndarray | None = None
        self.seen: sp.csr_matrix | None = None
        self.result_: TrainResult | None = None
        self.process = ProcessGroup()
        self.metrics_: dict[str, Any] = {}

    # ------------------------------------------------------------------------------ fitting
    def fit(self, data: Dataset | Interactions, *, run_dir: str | os.PathLike | None = None, resume: bool = False) -> Recommender:
        """Train; with ``run_dir`` write logs, checkpoints, ``metrics.json`` and ``model.pt`` there."""
        p = self.params
        if not isinstance(data, (Dataset, Interactions)):
            raise MarginRankError(
                f"fit takes a Dataset or Interactions (see marginrank.data: read_delimited, from_dataframe, "
                f"from_sparse); got {type(data).__name__}"
            )
        if torch.device(p.device).type == "cuda" and not torch.cuda.is_available():
            raise MarginRankError(f"device {p.device!r} asked for, but this PyTorch sees no CUDA device; use device='cpu'")
        self.process = from_environment(p.device)
        train, test = (data.train, data.test) if isinstance(data, Dataset) else (data, None)
        if test is not None and len(test) == 0:
            raise MarginRankError("the dataset's test split is empty: nothing to evaluate (fit on its train split alone)")
        if max(p.ks) > train.n_items:
            raise SettingError("ks", f"the cut-offs ks {list(p.ks)} go beyond the {train.n_items} items of the data; choose smaller ones")
        if p.protocol == "paper" and test is None:
            raise MarginRankError("protocol 'paper' monitors the test split: pass a Dataset with one")
        fit_on, evaluator = self._selection(train, test)
        torch.manual_seed(p.seed)
        self.model = self._build_model(fit_on.matrix).to(p.device)
        self.user_ids, self.item_ids, self.seen = train.user_ids, train.item_ids, train.matrix
        optimizer = make_optimizer(p.optimizer, self.model.parameters(), p.lr, sparse=p.sparse)
        scheduler = None
        if p.lr_schedule == "cosine":
            steps_per_epoch = -(-len(fit_on) // p.batch_size)
            scheduler = cosine_decay(optimizer, p.epochs * steps_per_epoch, p.min_lr)
        elif p.lr_patience is not None and evaluator is not None:
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
                optimizer, mode="max", factor=p.lr_factor, patience=p.lr_patience, min_lr=p.min_lr
            )
        loss = losses.get(p.loss, **p.loss_params)
        callbacks = []
        quantile = None
        if p.top_k_weight:
            loss = losses.TopKWeighted(loss, p.top_k_weight_temperature)
            quantile = TopKQuantile(fit_on.n_users, p.top_k_weight, TOP_K_SAMPLES, p.top_k_refresh_every)
            callbacks.append(TopKRefresh(quantile, fit_on.matrix))
        if p.collapse_check:
            monitor = CollapseMonitor(seed=p.seed, margin=loss.margin)
            callbacks.append(CollapseCheck(monitor, fit_on.matrix, p.on_collapse))
        task = InteractionTask(
            fit_on,
            self._negatives(fit_on),
            batch_size=p.batch_size,
            positive_sampling=p.positive_sampling,
            miner=None if p.miner is None else miners.get(p.miner, seed=p.seed, **p.miner_params),
            log_q_correction=p.log_q_correction,
            top_k_quantile=quantile,
            process=self.process,
        )
        trainer = Trainer(
            self.model,
            task,
            loss,
            optimizer,
            l2=p.l2,
            clip_norm=p.clip_norm,
            constraints=[NormConstraint(p.max_norm)] if p.max_norm is not None else [],
            evaluator=evaluator,
            eval_every=p.eval_every,
            monitor=p.monitor,
            patience=p.patience if evaluator is not None else None,
            scheduler=scheduler,
            restore_best_on_lr_cut=p.restore_best_on_lr_cut,
            average_decay=p.average_decay,
            callbacks=callbacks,
            run_dir=run_dir,
            seed=p.seed,
            progress=p.progress,
            device=p.device,
            process=self.process,
            time_limit=p.time_limit,
            tags={"protocol": p.protocol, "optimistic": p.protocol == "paper"},
            evaluated_on="test" if p.protocol == "paper" else "validation",
        )
        self.result_ = trainer.fit(p.epochs, resume=resume)
        trainer.restore_best()
        self.model.eval()
        self.metrics_ = self._final_metrics(train, test)
        self.metrics_["processes"] = self.process.world_size
        if run_dir is not None and self.process.is_main:
            atomic_write_text(Path(run_dir) / "metrics.json", json.dumps(self.metrics_, indent=2) + "\n")
            self.save(Path(run_dir) / "model.pt")
        return self

    def _build_model(self, pairs: sp.csr_matrix) -> EmbeddingModel:
        """The registered model for the training ``pairs`` (the pairs it trains on: a graph model's graph)."""
        p = self.params
        return models.build(
            p.model, pairs, dim=p.dim, similarity=p.similarity, dropout=p.dropout, init_std=p.init_std, sparse=p.sparse,
            **p.model_params,
        )

    def _selection(self, train: Interactions, test: Interactions | None) -> tuple[Interactions, Evaluator | None]:
        """The pairs to fit on and the evaluator that picks the best epoch, per protocol."""
        p = self.params
        if p.protocol == "none":
            return train, None
        if p.protocol == "paper":
            return train, Evaluator(train.matrix, test.matrix, p.ks, seed=p.seed, process=self.process)
        fit_on, valid = holdout_split(train, p.valid_ratio, seed=p.seed)
        return fit_on, Evaluator(fit_on.matrix, valid.matrix, p.ks, seed=p.seed, process=self.process)

    def _negatives(self, fit_on: Interactions) -> NegativeSource:
        p = self.params
        exclude = fit_on.matrix if p.exclude_positives else None
        if p.sampler == "in-batch":
            return InBatchNegatives(exclude)
        common = dict(shared=p.shared_negatives, exclude=exclude, seed=p.seed, group_size=p.group_size)
        if p.sampler == "popularity":
            return PopularitySampler(fit_on.item_counts(), p.negatives, alpha=p.popularity_alpha, **common)
        return UniformSampler(fit_on.n_items, p.negatives, **common)

    def _final_metrics(self, train: Interactions, test: Interactions | None) -> dict[str, Any]:
        p, result = self.params, self.result_
        summary: dict[str, Any] = {
            "protocol": p.protocol,
            "optimistic": p.protocol == "paper",
            "best_epoch": result.best_epoch,
            "epochs_run": len(result.history),
            "stopped": result.stopped,
            "selection": result.best_metrics,
        }
        if p.protocol == "paper":
            summary["note"] = "best epoch chosen on the test split (as published papers do): optimistic"
        if test is not None:
            summary.update(self.evaluate(test))
            summary["popularity"] = evaluate_popularity(train.matrix, test.matrix, p.ks, seed=p.seed)
        return summary

    # ---------------------------------------------------------------------------------- using
    def _fitted(self) -> EmbeddingModel:
        if self.model is None:
            raise MarginRankError("this Recommender is not fitted yet: call fit() or Recommender.load()")
        return self.model

    def evaluate(self, test: Interactions | Dataset, ks: Sequence[int] | None = None) -> dict[str, float]:
        """Full-ranking metrics on ``test`` (same index space as the training data), training items excluded."""
        model = self._fitted()
        test = test.test if isinstance(test, Dataset) else test
        if not isinstance(test, Interactions):
            raise MarginRankError(f"evaluate takes a Dataset or test Interactions, got {type(test).__name__}")
        if test.shape != self.seen.shape:
            raise MarginRankError(f"test data has shape {test.shape}, the model was trained on {self.seen.shape}")
        ks = self.params.ks if ks is None else cut_offs(ks)
        return Evaluator(self.seen, test.matrix, ks, seed=self.params.seed, process=self.process)(model)

    def recommend(self, user_ids: Sequence | np.ndarray, k: int = 20, *, exclude_seen: bool = True) -> tuple[np.ndarray, np.ndarray]:
        """Top ``k`` items for each raw user id: ``(item_ids [U, k], scores [U, k])``, training items excluded."""
        model = self._fitted()
        users = lookup_ids(id_index(self.user_ids), user_ids, "user")
        if isinstance(k, bool) or not isinstance(k, Integral) or not 1 <= k <= len(self.item_ids):
            raise MarginRankError(f"k must be between 1 and {len(self.item_ids)}, got {k!r}")
        items, scores = model.recommend(torch.from_numpy(users), int(k), exclude=self.seen if exclude_seen else None)
        items = items.cpu().numpy()
        short = (items < 0).any(axis=1)
        if short.any():  # the model pads with item -1, which must not become the last raw id
            row = int(np.flatnonzero(short)[0])
            available, user = int((items[row] >= 0).sum()), users[row]
            raise MarginRankError(
                f"user {self.user_ids[user : user + 1].tolist()[0]!r} has only {available} items left after excluding the "
                f"{self.seen[user].nnz} seen in training; ask for k <= {available}"
            )
        return self.item_ids[items], scores.cpu().numpy()

    # ---------------------------------------------------------------------------- persistence
    def save(self, path: str | os.PathLike) -> None:
        """One file of tensors and plain values (no pickled objects), written atomically."""
        model = self._fitted()
        save_checkpoint(
            {
                "format": MODEL_FORMAT,
                "params": json.dumps(asdict(self.params)),
                "model": model.state_dict(),
                "user_ids": _ids_to_plain(self.user_ids),
                "item_ids": _ids_to_plain(self.item_ids),
                "seen_indptr": torch.from_numpy(self.seen.indptr.astype(np.int64)),
                "seen_indices": torch.from_numpy(self.seen.indices.astype(np.int64)),
                "metrics": json.dumps(self.metrics_),
            },
            path,
        )

    @classmethod
    def load(cls, path: str | os.PathLike) -> Recommender:
        state = load_checkpoint(path)
        if state.get("format") not in (MODEL_FORMAT, MF_ONLY_FORMAT):
            raise MarginRankError(f"not a saved Recommender (format {state.get('format')!r})", path=str(path))
        require_entries(state, ("params", "model", "user_ids", "item_ids", "seen_indptr", "seen_indices", "metrics"), path)
        params = json.loads(state["params"])
        if state["format"] == MF_ONLY_FORMAT:  # saved before the model registry: an MF, with its one own setting flat
            params["model_params"] = {"dropout_before_norm": params.pop("dropout_before_norm", False)}
        params["ks"] = tuple(params["ks"])
        params["device"] = "cpu"
        rec = cls(**params)
        user_ids, item_ids = _ids_from_plain(state["user_ids"]), _ids_from_plain(state["item_ids"])
        rec.model = rec._build_model(sp.csr_matrix((len(user_ids), len(item_ids)), dtype=np.float32))
        try:
            rec.model.load_state_dict(state["model"])
        except RuntimeError as error:
            raise MarginRankError(f"saved weights do not fit the saved settings: {str(error).splitlines()[0]}", path=str(path)) from None
        rec.model.eval()
        rec.user_ids, rec.item_ids = user_ids, item_ids
        indptr, indices = state["seen_indptr"].numpy(), state["seen_indices"].numpy()
        rec.seen = sp.csr_matrix((np.ones(len(indices), dtype=np.float32), indices, indptr), shape=(len(user_ids), len(item_ids)))
        rec.metrics_ = json.loads(state["metrics"])
        return rec


_PLAIN_ID_TYPES = (str, int, float, tuple)  # what a weights-only checkpoint stores as is


def _ids_to_plain(ids: np.ndarray) -> torch.Tensor | list:
    """Raw ids in a form a weights-only checkpoint holds without loss: int64 ids as a tensor, strings,
    big or float ids and tuples as a list; other objects by their text."""
    if ids.dtype.kind in "iu" and (ids.size == 0 or ids.max() <= np.iinfo(np.int64).max):
        return torch.from_numpy(ids.astype(np.int64))
    return [value if isinstance(value, _PLAIN_ID_TYPES) else str(value) for value in ids.tolist()]


def _ids_from_plain(ids: torch.Tensor | list) -> np.ndarray:
    if isinstance(ids, torch.Tensor):
        return ids.numpy()
    if ids and all(isinstance(value, float) for value in ids):
        return np.array(ids, dtype=np.float64)
    restored = np.empty(len(ids), dtype=object)  # element by element: tuples stay single ids
    for position, value in enumerate(ids):
        restored[position] = value
    return restored
