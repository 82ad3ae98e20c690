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

import hashlib
import json
import math
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import Field, asdict, dataclass, field, fields, replace
from functools import partial
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp
import torch

from marginrank import losses
from marginrank.atomic import atomic_write_text
from marginrank.checks import (
    require,
    require_choice,
    require_fraction,
    require_integer,
    require_non_negative,
    require_optional,
    require_positive,
)
from marginrank.data import Dataset, Interactions, holdout_split
from marginrank.data.interactions import id_index, lookup_ids
from marginrank.errors import MarginRankError, SettingError
from marginrank.guards import CollapseMonitor, NormConstraint
from marginrank.metrics import evaluate_popularity
from marginrank.metrics.full_ranking import cut_offs
from marginrank.metrics.ranking import METRIC_NAMES, METRICS
from marginrank.metrics.split_checks import check_evaluation_split
from marginrank.models import registry as models
from marginrank.models.base import RANKING_SIMILARITIES, SIMILARITIES, EmbeddingModel
from marginrank.models.pooled_scores import PRECISIONS
from marginrank.sampling import InBatchNegatives, PopularitySampler, UniformSampler
from marginrank.sampling.miners import registry as miners
from marginrank.sampling.source import NegativeSource
from marginrank.training.batch_scaling import auto_batch_size, pool_group_size, scaled_lr
from marginrank.training.batches import POSITIVE_SAMPLING
from marginrank.training.callbacks import Callback, CollapseCheck, LearningRateReplay, TopKRefresh
from marginrank.training.checkpoint import load_checkpoint, require_entries, save_checkpoint
from marginrank.training.distributed import ProcessGroup, from_environment
from marginrank.training.evaluator import Evaluator
from marginrank.training.optimizers import OPTIMIZERS, make_optimizer
from marginrank.training.run_folder import claim
from marginrank.training.schedules import cosine_decay
from marginrank.training.tasks import InteractionTask
from marginrank.training.top_k_quantile import TopKQuantile
from marginrank.training.trainer import OptimizerFactory, SchedulerFactory, Trainer, TrainResult

PROTOCOLS = ("validation", "paper", "none")
LR_SCHEDULES = ("plateau", "cosine")
SAMPLERS = ("uniform", "popularity", "in-batch")
MODEL_FORMAT = "marginrank-recommender-2"
MF_ONLY_FORMAT = "marginrank-recommender-1"
SCALED_SETTINGS = ("batch_size", "lr", "group_size")  # filled in from the data size when left unset
REFIT_FOLDER = "refit"  # under a run folder: the refit's log and checkpoints
TOP_K_SAMPLES = 1000  # items drawn per user to estimate the top-K thresholds (SL@K's N)


@dataclass
class RecommenderParams:
    """Every setting of a :class:`Recommender`, with its default (all plain values).

    ``monitor`` left unset becomes recall at the first cut-off of ``ks``. ``progress`` prints one
    line per epoch on stderr, and ``progress_bar`` adds a bar within each epoch when stderr is a
    terminal.

    ``batch_size``, ``lr`` and (with shared negatives) ``group_size`` left unset are chosen from the
    number of training pairs by :mod:`marginrank.training.batch_scaling` (:meth:`for_pairs`): the
    fast path the reproduction runs use.

    ``dim``, ``similarity``, ``ranking_similarity``, ``dropout``, ``init_std``, ``score_precision`` and ``sparse`` are the embedding settings
    every model takes; ``model_params`` holds the chosen model's own (LightGCN's ``layers``, MF's
    ``dropout_before_norm``). ``miner_params`` and ``loss_params`` likewise belong to the chosen
    miner and loss.

    ``refit`` is off here because it doubles the cost of a fit (the command line's ``train`` turns
    it on under the validation protocol): see :class:`Recommender`.
    """

    model: str = "mf"
    model_params: dict[str, Any] = field(default_factory=dict)
    loss: str = "mmcl"
    loss_params: dict[str, Any] = field(default_factory=dict)
    negatives: int = 100
    shared_negatives: bool = True
    group_size: int | None = None  # None: batch_size // 32 (shared negatives)
    sampler: str = "uniform"  # or "popularity", "in-batch"
    miner: str | None = None
    miner_params: dict[str, Any] = field(default_factory=dict)
    popularity_alpha: float = 0.75
    exclude_positives: bool = False  # the published shared-pool runs keep them too
    log_q_correction: bool = False
    top_k_weight: int = 0
    top_k_weight_temperature: float = 1.0
    top_k_refresh_every: int = 20
    dim: int = 64
    similarity: str = "cosine"
    ranking_similarity: str = "auto"  # or "same", "cosine", "dot": the score evaluation and recommend rank by
    dropout: float = 0.1
    init_std: float = 1e-4
    score_precision: str = "auto"
    optimizer: str = "adam"
    lr: float | None = None  # None: scaled with batch_size
    sparse: bool = False
    batch_size: int | None = None  # None: from the number of training pairs
    positive_sampling: str = "pairs"  # or "users"
    epochs: int = 20
    l2: float = 0.0
    clip_norm: float | None = None
    max_norm: float | None = None
    protocol: str = "validation"
    valid_ratio: float = 0.1
    refit: bool = False
    eval_every: int = 1
    ks: tuple[int, ...] = (20,)
    monitor: str | None = None  # None: recall at the first cut-off
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
    progress_bar: bool = True
    device: str = "cpu"

    def for_pairs(self, n_pairs: int) -> RecommenderParams:
        """These settings with ``batch_size``, ``lr`` and ``group_size`` filled in for ``n_pairs`` training pairs."""
        batch_size = self.batch_size or auto_batch_size(n_pairs)
        group_size = self.group_size or (pool_group_size(batch_size) if self.shared_negatives else None)
        return replace(self, batch_size=batch_size, lr=self.lr or scaled_lr(batch_size), group_size=group_size)

    def __post_init__(self) -> None:
        for setting in fields(self):
            setattr(self, setting.name, _typed(setting, getattr(self, setting.name)))
        if self.monitor is None and self.ks:
            self.monitor = f"recall@{self.ks[0]}"
        for setting, check in SETTING_CHECKS:
            with _as_setting_error(setting):
                check(self)
        unknown_loss = self.loss.strip().lower() not in losses.available()
        with _as_setting_error("loss" if unknown_loss else "loss_params"):  # an unknown loss or parameter fails here, before any work
            loss = losses.get(self.loss, **self.loss_params)
        with _as_setting_error("log_q_correction"):
            require(not self.log_q_correction or loss.takes("neg_log_prob"),
                    f"the log-Q correction needs a softmax loss; {self.loss!r} takes no log-probabilities")


def _own(setting: str, check: Callable[..., object], *args: object, **kwargs: object) -> tuple[str, Callable[[RecommenderParams], object]]:
    """A row of :data:`SETTING_CHECKS` that applies ``check(setting, value, *args, **kwargs)`` to the setting's own value."""
    return setting, lambda params: check(setting, getattr(params, setting), *args, **kwargs)


SETTING_CHECKS: tuple[tuple[str, Callable[[RecommenderParams], object]], ...] = (
    _own("protocol", require_choice, PROTOCOLS),
    _own("sampler", require_choice, SAMPLERS),
    _own("model", require_choice, models.available()),
    _own("miner", require_optional, require_choice, miners.available()),
    _own("similarity", require_choice, SIMILARITIES),
    _own("ranking_similarity", require_choice, ("auto", *RANKING_SIMILARITIES)),
    _own("score_precision", require_choice, PRECISIONS),
    _own("negatives", require_integer, 1),
    _own("top_k_weight", require_integer, 0, TOP_K_SAMPLES),
    _own("top_k_weight_temperature", require_positive),
    _own("top_k_refresh_every", require_integer, 1),
    _own("dim", require_integer, 1),
    _own("epochs", require_integer, 1),
    _own("dropout", require_fraction, include_zero=True),
    _own("valid_ratio", require_fraction),
    _own("l2", require_non_negative),
    ("ks", lambda params: cut_offs(params.ks)),
    ("device", lambda params: require(
        _is_device(params.device), f"device must be 'cpu', 'cuda' or 'cuda:N', got {params.device!r}")),
    _own("lr", require_optional, require_positive),
    _own("batch_size", require_optional, require_integer, 1),
    _own("positive_sampling", require_choice, POSITIVE_SAMPLING),
    _own("optimizer", require_choice, OPTIMIZERS),
    _own("on_collapse", require_choice, ("warn", "stop")),
    _own("average_decay", require_optional, require_fraction),
    _own("eval_every", require_integer, 1),
    _own("patience", require_optional, require_integer, 1),
    _own("lr_schedule", require_choice, LR_SCHEDULES),
    _own("lr_patience", require_optional, require_integer, 0),
    ("lr_patience", lambda params: require(
        params.lr_schedule == "plateau" or params.lr_patience is None,
        f"lr_patience drives the plateau schedule; unset it for lr_schedule {params.lr_schedule!r}")),
    ("refit", lambda params: require(
        not params.refit or params.protocol == "validation",
        f"refit retrains on the validation pairs; it needs protocol 'validation', not {params.protocol!r}")),
    ("refit", lambda params: require(
        not params.refit or not params.restore_best_on_lr_cut,
        "refit replays the selection run's epochs and learning rates, not the weight reloads of restore_best_on_lr_cut")),
    ("restore_best_on_lr_cut", lambda params: require(
        params.lr_schedule == "plateau" or not params.restore_best_on_lr_cut,
        f"restore_best_on_lr_cut acts on the plateau schedule's cuts, not on lr_schedule {params.lr_schedule!r}")),
    _own("lr_factor", require_fraction),
    _own("min_lr", require_non_negative),
    ("min_lr", lambda params: require(
        params.lr_schedule != "cosine" or params.lr is None or params.min_lr <= params.lr,
        f"min_lr {params.min_lr} is above lr {params.lr}: the cosine schedule anneals from lr down to min_lr")),
    _own("time_limit", require_optional, require_positive),
    _own("clip_norm", require_optional, require_positive),
    _own("seed", require_integer, 0),
    _own("init_std", require_positive),
    _own("max_norm", require_optional, require_positive),
    _own("group_size", require_optional, require_integer, 1),
    ("group_size", lambda params: require(
        params.group_size is None or params.shared_negatives,
        "group_size applies to shared negatives only (shared_negatives = true)")),
    ("monitor", lambda params: _require_monitor(params.monitor, params.ks)),
    ("log_q_correction", lambda params: require(
        not params.log_q_correction or (params.miner is None and params.sampler != "in-batch"),
        "the log-Q correction corrects drawn negatives; mined and in-batch ones have no proposal")),
    ("model_params", lambda params: models.check_params(params.model, params.model_params)),
    ("miner_params", lambda params: params.miner is None or miners.get(params.miner, **params.miner_params)),
)
"""Each setting's checks, in the order :class:`RecommenderParams` runs them: a row is the setting to
blame and a check on the typed settings that raises a :class:`MarginRankError` from
:mod:`marginrank.checks`, so a bad value reads the same here as in the class that takes it."""


@contextmanager
def _as_setting_error(setting: str) -> Iterator[None]:
    """Re-raise a :class:`MarginRankError` of the block as a :class:`SettingError` naming ``setting``,
    so the CLI can point at the line that set it."""
    try:
        yield
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


def ranking_similarity(params: RecommenderParams) -> str:
    """The model's ``ranking_similarity`` for these settings: ``"auto"`` is ``"dot"`` for a LightGCN
    trained by a softmax loss on cosines against in-batch negatives and ``"same"`` otherwise.

    In-batch negatives are drawn in proportion to popularity, so the cosines a softmax learns against
    them under-rank popular items; a propagated item's norm grows with its degree and puts that back.
    Test Recall@20, same weights ranked by cosine / dot: LightGCN + BSL in-batch Gowalla 0.1032 /
    0.1639, Yelp2018 0.0417 / 0.0630; MF + BSL in-batch Gowalla 0.0870 / 0.0834; LightGCN + BSL with
    uniform negatives Gowalla 0.1651 / 0.1654, Yelp2018 0.0701 / 0.0509; LightGCN + MMCL in-batch
    Gowalla after 3 epochs 0.1019 / 0.0800 (docs/models.md).
    """
    if params.ranking_similarity != "auto":
        return params.ranking_similarity
    graph_in_batch = params.model == "lightgcn" and params.sampler == "in-batch" and params.similarity == "cosine"
    softmax = losses.get(params.loss, **params.loss_params).takes("neg_log_prob")
    return "dot" if graph_in_batch and softmax else "same"


def _require_monitor(monitor: str, ks: tuple[int, ...]) -> None:
    """A :class:`MarginRankError` unless ``monitor`` (``name@k``) can pick the best epoch with cut-offs ``ks``."""
    name, _, k = monitor.partition("@")
    require(name in METRICS and k.isdigit(),
            f"monitor must be a metric@k such as 'recall@20' (metrics: {', '.join(METRICS)}), got {monitor!r}")
    require(int(k) in ks, f"monitor {monitor!r} needs {k} among the cut-offs ks {list(ks)}; add it, or monitor one of those")


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

    ``refit=True`` (validation protocol only) then retrains from scratch, with the same seed and
    settings, on all training pairs (the validation pairs included) for the best epoch's number of
    epochs, replaying the learning rate of each of the selection run's epochs (no evaluation, no
    early stopping, no time limit); the test metrics are the refit model's. ``result_`` holds the
    selection run, ``refit_result_`` the refit. It is off by default because it doubles the cost.
    """

    def __init__(
        self,
        *,
        model: str = "mf",
        model_params: dict[str, Any] | None = None,
        loss: str = "mmcl",
        loss_params: dict[str, Any] | None = None,
        negatives: int = 100,
        shared_negatives: bool = True,
        group_size: int | None = None,
        sampler: str = "uniform",
        miner: str | None = None,
        miner_params: dict[str, Any] | None = None,
        popularity_alpha: float = 0.75,
        exclude_positives: bool = False,
        log_q_correction: bool = False,
        top_k_weight: int = 0,
        top_k_weight_temperature: float = 1.0,
        top_k_refresh_every: int = 20,
        dim: int = 64,
        similarity: str = "cosine",
        ranking_similarity: str = "auto",
        dropout: float = 0.1,
        init_std: float = 0.0001,
        score_precision: str = "auto",
        optimizer: str = "adam",
        lr: float | None = None,
        sparse: bool = False,
        batch_size: int | None = None,
        positive_sampling: str = "pairs",
        epochs: int = 20,
        l2: float = 0.0,
        clip_norm: float | None = None,
        max_norm: float | None = None,
        protocol: str = "validation",
        valid_ratio: float = 0.1,
        refit: bool = False,
        eval_every: int = 1,
        ks: tuple[int, ...] = (20,),
        monitor: str | None = None,
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
        progress_bar: bool = True,
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
        self.refit_result_: TrainResult | None = None
        self.process = ProcessGroup()
        self.metrics_: dict[str, Any] = {}
        self.settings_: RecommenderParams | None = None  # the params with the scaled settings filled in, once fitted

    # ------------------------------------------------------------------------------ fitting
    def fit(self, data: Dataset | Interactions, *, run_dir: str | os.PathLike | None = None, resume: bool = False,
            on_start: Callable[[], None] | None = None,
            on_evaluation: Callable[[int, dict[str, float]], None] | None = None) -> Recommender:
        """Train; with ``run_dir`` write logs, checkpoints, ``metrics.json`` and ``model.pt`` there (a
        refit's log and checkpoints in its ``refit`` folder).

        Every check (settings, data, device, the run folder, on resume the checkpoint and the
        fingerprint of the data it was trained on) comes before anything is written; ``on_start``
        runs once they have passed, before the first epoch. ``on_evaluation(epoch, metrics)`` gets
        the selection metrics of every evaluated epoch of the selection run (the validation split's
        under ``protocol="validation"``); an exception it raises ends the fit there."""
        started, p = time.perf_counter(), self.params
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
        if p.sampler != "in-batch" and p.negatives > train.n_items:
            raise SettingError(
                "negatives", f"negatives {p.negatives} is more than the {train.n_items} items of the data; choose at most {train.n_items}"
            )
        if p.protocol == "paper" and test is None:
            raise MarginRankError("protocol 'paper' monitors the test split: pass a Dataset with one")
        if test is not None:
            check_evaluation_split(train.matrix, test.matrix)
        fit_on, evaluator = self._selection(train, test)
        self.settings_ = self.params.for_pairs(len(fit_on))
        self._say_chosen(len(fit_on))
        self.user_ids, self.item_ids, self.seen = train.user_ids, train.item_ids, train.matrix
        fingerprint = self._fingerprint(train)
        with ExitStack() as stack:
            if run_dir is not None and self.process.is_main:
                stack.enter_context(claim(run_dir))
            trainer = self._trainer(fit_on, evaluator, run_dir, fingerprint, phase="selection" if p.refit else None,
                                    clock=started, on_evaluation=on_evaluation)
            self.result_ = trainer.fit(p.epochs, resume=resume, on_start=on_start)
            trainer.restore_best()
            self.refit_result_ = self._refit(train, run_dir, resume, fingerprint) if p.refit else None
            self.model.eval()
            self.metrics_ = self._final_metrics(train, test)
            self.metrics_["processes"] = self.process.world_size
            if run_dir is not None and self.process.is_main:
                atomic_write_text(Path(run_dir) / "metrics.json", json.dumps(self.metrics_, indent=2) + "\n")
                self.save(Path(run_dir) / "model.pt")
        return self

    def _say_chosen(self, n_pairs: int) -> None:
        """One line on stderr (with ``progress``) naming the settings chosen for the data size."""
        chosen: dict[str, object] = {name: getattr(self.settings_, name) for name in SCALED_SETTINGS
                                     if getattr(self.params, name) != getattr(self.settings_, name)}
        ranking = ranking_similarity(self.params)
        if self.params.ranking_similarity == "auto" and ranking != "same":
            chosen["ranking_similarity"] = ranking
        if chosen and self.params.progress and self.process.is_main:
            settings = ", ".join(f"{name} {value:g}" if isinstance(value, Real) else f"{name} {value}" for name, value in chosen.items())
            print(f"chosen for {n_pairs:,} training pairs: {settings} (set them to override)", file=sys.stderr)

    def _trainer(
        self, fit_on: Interactions, evaluator: Evaluator | None, run_dir: str | os.PathLike | None,
        fingerprint: dict[str, str], *, phase: str | None = None, replay: Sequence[float] | None = None,
        clock: float | None = None, on_evaluation: Callable[[int, dict[str, float]], None] | None = None,
    ) -> Trainer:
        """A fresh model (seeded by ``seed``) in ``self.model`` and the trainer that fits it on ``fit_on``
        with the settings chosen for the data (``settings_``); with an evaluator the model as built is
        evaluated first (epoch 0), so that a start no epoch beats is kept.

        ``replay`` gives each epoch's learning rate in place of the plateau schedule, and the run then
        has no time limit; ``phase`` tags the lines of its log; ``clock`` is when the fit began;
        ``on_evaluation`` goes to the trainer."""
        p = self.settings_
        torch.manual_seed(p.seed)
        self.model = self._build_model(fit_on.matrix).to(p.device)
        # built once the start is evaluated, so that the first result does not wait for the optimizer
        optimizer: torch.optim.Optimizer | OptimizerFactory = partial(
            make_optimizer, p.optimizer, list(self.model.parameters()), p.lr, sparse=p.sparse
        )
        callbacks: list[Callback] = []
        scheduler: SchedulerFactory | None = None
        if p.lr_schedule == "cosine":  # it reads no metric: rebuilt over a refit's steps, each epoch ends at the same rate
            steps_per_epoch = -(-len(fit_on) // p.batch_size)
            scheduler = partial(cosine_decay, total_steps=p.epochs * steps_per_epoch, min_lr=p.min_lr)
        elif replay is not None:
            optimizer = optimizer()
            callbacks.append(LearningRateReplay(optimizer, replay))
        elif p.lr_patience is not None and evaluator is not None:
            scheduler = partial(torch.optim.lr_scheduler.ReduceLROnPlateau, mode="max", factor=p.lr_factor,
                                patience=p.lr_patience, min_lr=p.min_lr)
        loss = losses.get(p.loss, **p.loss_params)
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
        tags = {"protocol": p.protocol, "optimistic": p.protocol == "paper"}
        return Trainer(
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
            progress_bar=p.progress_bar,
            device=p.device,
            process=self.process,
            time_limit=p.time_limit if replay is None else None,
            tags=tags if phase is None else {**tags, "phase": phase},
            evaluated_on="test" if p.protocol == "paper" else "validation",
            fingerprint=fingerprint,
            evaluate_start=evaluator is not None,
            clock=clock,
            on_evaluation=on_evaluation,
        )

    def _refit(self, train: Interactions, run_dir: str | os.PathLike | None, resume: bool, fingerprint: dict[str, str]) -> TrainResult:
        """Retrain from scratch on all of ``train`` (validation pairs included) for the selection run's
        best epoch count, replaying the learning rate of each of its epochs; nothing is evaluated.

        Its log and checkpoints go to ``run_dir/refit``; a resumed fit continues the refit found
        there if it follows the same plan (epochs and rates), and starts it over otherwise."""
        p, history = self.params, self.result_.history
        epochs = self.result_.epochs_trained if self.result_.best_epoch is None else self.result_.best_epoch
        plan = {"epochs": epochs, "lr": [record["lr"] for record in history if 0 < record["epoch"] <= epochs]}
        folder = None if run_dir is None else Path(run_dir) / REFIT_FOLDER
        with ExitStack() as stack:
            if folder is not None and self.process.is_main:
                stack.enter_context(claim(folder))
            resume = folder is not None and self._refit_resumes(folder, plan, resume)
            if p.progress and self.process.is_main:
                print(f"refit on all {len(train):,} training pairs (validation pairs included) for {epochs} epochs",
                      file=sys.stderr, flush=True)
            trainer = self._trainer(train, None, folder, fingerprint, phase="refit", replay=plan["lr"])
            result = trainer.fit(epochs, resume=resume)
            trainer.restore_best()
        return result

    def _refit_resumes(self, folder: Path, plan: dict[str, Any], resume: bool) -> bool:
        """Whether to ``resume`` the refit checkpoint in ``folder``: only one that follows ``plan``;
        otherwise the folder is made ready for a fresh refit (a stale checkpoint removed, the plan written)."""
        written = folder / "plan.json"
        if resume and written.exists() and json.loads(written.read_text()) == plan and (folder / "last.pt").exists():
            return True
        if self.process.is_main:  # the folder is there: the refit holds its claim
            (folder / "last.pt").unlink(missing_ok=True)
            atomic_write_text(written, json.dumps(plan) + "\n")
        return False

    def _fingerprint(self, train: Interactions) -> dict[str, str]:
        """Hashes of what a checkpoint is trained on: the training pairs with their raw ids, and the
        settings that split them (the validation hold-out)."""
        p = self.params
        data = hashlib.sha256(_digest(train.matrix).encode())
        for ids in (train.user_ids, train.item_ids):
            data.update(ids.tobytes() if ids.dtype.kind in "iuf" else "\0".join(map(repr, ids.tolist())).encode())
        split = json.dumps({"protocol": p.protocol, "valid_ratio": p.valid_ratio, "seed": p.seed}, sort_keys=True)
        return {"training data": data.hexdigest(), "split settings": hashlib.sha256(split.encode()).hexdigest()}

    def _build_model(self, pairs: sp.csr_matrix) -> EmbeddingModel:
        """The registered model for the training ``pairs`` (the pairs it trains on: a graph model's graph)."""
        p = self.params
        return models.build(
            p.model, pairs, dim=p.dim, similarity=p.similarity, ranking_similarity=ranking_similarity(p),
            dropout=p.dropout, init_std=p.init_std,
            score_precision=p.score_precision, sparse=p.sparse, **p.model_params,
        )

    def selection_split(self, train: Interactions, test: Interactions | None) -> tuple[Interactions, Interactions | None]:
        """The pairs the model fits on and the held-out pairs that pick its best epoch, per ``protocol``:
        a validation split of ``train``, the ``test`` split (``"paper"``), or none (``"none"``)."""
        p = self.params
        if p.protocol == "none":
            return train, None
        if p.protocol == "paper":
            return train, test
        fit_on, valid = holdout_split(train, p.valid_ratio, seed=p.seed)
        if len(valid) == 0:
            raise SettingError(
                "protocol", "the validation split is empty: no user has two training items to hold one out; "
                "train with protocol 'none' (no evaluation during training) or 'paper' (monitors the test split: optimistic)",
            )
        return fit_on, valid

    def _selection(self, train: Interactions, test: Interactions | None) -> tuple[Interactions, Evaluator | None]:
        """The pairs to fit on and the evaluator that picks the best epoch, per protocol."""
        p = self.params
        fit_on, held_out = self.selection_split(train, test)
        if held_out is None:
            return fit_on, None
        return fit_on, Evaluator(fit_on.matrix, held_out.matrix, p.ks, seed=p.seed, process=self.process)

    def _negatives(self, fit_on: Interactions) -> NegativeSource:
        p = self.settings_
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
            "epochs_run": result.epochs_trained,
            "stopped": result.stopped,
            "selection": result.best_metrics,
            "scaled_settings": {name: getattr(self.settings_, name) for name in SCALED_SETTINGS},
        }
        if self.refit_result_ is not None:
            summary["refit"] = {"epochs": self.refit_result_.epochs_trained, "pairs": len(train)}
        if p.protocol == "paper":
            summary["note"] = "best epoch chosen on the test split (as published papers do): optimistic"
        if test is not None:
            summary.update(self._metrics(test, p.ks))
            summary["popularity"] = evaluate_popularity(train.matrix, test.matrix, p.ks, seed=p.seed)
            summary["test_digest"] = _digest(test.matrix)
        return summary

    # ---------------------------------------------------------------------------------- using
    def _fitted(self) -> EmbeddingModel:
        if self.model is None:
            raise MarginRankError("this Recommender is not fitted yet: call fit() or Recommender.load()")
        return self.model

    def evaluate(self, test: Interactions | Dataset, ks: Sequence[int] | None = None) -> dict[str, float]:
        """Full-ranking metrics on ``test`` (same index space as the training data), training items excluded."""
        self._fitted()
        test = test.test if isinstance(test, Dataset) else test
        if not isinstance(test, Interactions):
            raise MarginRankError(f"evaluate takes a Dataset or test Interactions, got {type(test).__name__}")
        if test.shape != self.seen.shape:
            raise MarginRankError(f"test data has shape {test.shape}, the model was trained on {self.seen.shape}")
        check_evaluation_split(self.seen, test.matrix)
        return self._metrics(test, self.params.ks if ks is None else cut_offs(ks))

    def _metrics(self, test: Interactions, ks: tuple[int, ...]) -> dict[str, float]:
        return Evaluator(self.seen, test.matrix, ks, seed=self.params.seed, process=self.process)(self._fitted())

    def popularity(self, test: Interactions | Dataset, ks: Sequence[int] | None = None) -> dict[str, float]:
        """The popularity baseline on ``test``: the one stored at fit time when it was computed on
        this test split with these cut-offs, else computed (training items excluded)."""
        test = test.test if isinstance(test, Dataset) else test
        ks = self.params.ks if ks is None else cut_offs(ks)
        stored = self.metrics_.get("popularity", {})
        wanted = [f"{name}@{k}" for name in METRIC_NAMES for k in sorted(set(ks))]
        if self.metrics_.get("test_digest") == _digest(test.matrix) and all(key in stored for key in wanted):
            return {key: stored[key] for key in wanted}
        return evaluate_popularity(self.seen, test.matrix, ks, seed=self.params.seed)

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
        params.setdefault("ranking_similarity", "same")  # files saved before the setting ranked by the training score
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


def _digest(pairs: sp.csr_matrix) -> str:
    """A fingerprint of a split's pairs: the same pairs in the same index space give the same text."""
    digest = hashlib.sha256(np.asarray(pairs.shape, dtype=np.int64).tobytes())
    for part in (pairs.indptr, pairs.indices):
        digest.update(np.ascontiguousarray(part, dtype=np.int64).tobytes())
    return digest.hexdigest()


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
