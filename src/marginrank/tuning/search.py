"""A hyper-parameter search over a :class:`SearchSpace`, on the validation protocol only.

:class:`Search` runs an Optuna study (TPE sampler, median pruner) whose trials are ordinary fits of
a :class:`~marginrank.Recommender` on the **training pairs alone**: the search is handed no test
split, so none can be read. Each trial holds out ``valid_ratio`` of each user's training pairs,
trains with early stopping on them, and scores its best validation value of ``monitor``; no trial
refits. Every evaluated epoch reports its validation value to the study
(:class:`~marginrank.tuning.pruning.ReportToTrial`), and a trial the pruner finds behind the median
of the earlier trials at the same epoch stops there.

The study lives in ``out/study.db`` (SQLite), so a search that is interrupted (Ctrl-C, a killed
process) continues where it stopped when run again on the same folder: finished trials are kept,
and a trial cut short is run again with the same settings. A resumed search must have the same base
settings, space and training pairs, which the study records. Trial ``n`` trains in
``out/trials/trial-n`` (``log.jsonl``, ``metrics.json``, ``model.pt``; its checkpoints are removed
once it ends). ``trials`` caps the trials in total, resumed ones included (a trial cut short does
not count); ``timeout`` (seconds) starts no trial after that much time in this call.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from marginrank.data import Interactions
from marginrank.errors import MarginRankError
from marginrank.recommender import Recommender, RecommenderParams
from marginrank.training.run_folder import claim
from marginrank.tuning.dependency import import_optuna
from marginrank.tuning.pruning import ReportToTrial
from marginrank.tuning.results import counted, trial_line
from marginrank.tuning.space import SearchSpace

STUDY_FILE = "study.db"
STUDY_NAME = "marginrank"
TRIALS = "trials"
DISPLAY_SETTINGS = ("progress", "progress_bar")  # may differ on resume: they change no result
PRUNER_STARTUP_TRIALS = 3  # trials that finish before any is pruned


def trial_dir(out: Path, number: int) -> Path:
    return Path(out) / TRIALS / f"trial-{number}"


class Search:
    """Search ``space`` around the base ``params`` on ``train`` (training pairs only), in ``out``.

    ``seed`` seeds the TPE sampler (a resumed search draws anew from its own seed);
    ``startup_trials`` are drawn at random before TPE models the results; ``prune`` with
    ``prune_warmup``: no trial is pruned in its first ``prune_warmup`` epochs, nor before
    3 trials have finished. ``on_trial_start(run_dir, params)`` runs when a trial's checks have
    passed, before its first epoch (where a caller writes its config); ``report(line)`` gets one line
    per finished trial."""

    def __init__(
        self,
        train: Interactions,
        params: RecommenderParams,
        space: SearchSpace,
        out: str | Path,
        *,
        seed: int = 0,
        startup_trials: int = 10,
        prune: bool = True,
        prune_warmup: int = 2,
        on_trial_start: Callable[[Path, RecommenderParams], None] | None = None,
        report: Callable[[str], None] | None = None,
    ) -> None:
        if not isinstance(train, Interactions):
            raise MarginRankError(f"a search takes the training Interactions alone (never a test split), got {type(train).__name__}")
        if params.protocol != "validation":
            raise MarginRankError(f"a search scores trials on the validation split: protocol must be 'validation', not {params.protocol!r}")
        space.check(params)
        self.train, self.params, self.space, self.out = train, params, space, Path(out)
        self.seed, self.startup_trials = seed, startup_trials
        self.prune, self.prune_warmup = prune, prune_warmup
        self.on_trial_start, self.report = on_trial_start, report
        self.optuna = import_optuna()

    # ------------------------------------------------------------------------------- the study
    def run(self, trials: int, timeout: float | None = None) -> Any:
        """Run until the study holds ``trials`` counted trials or ``timeout`` seconds have passed;
        return the ``optuna.Study``."""
        with claim(self.out):
            study = self.open()
            self._retry_interrupted(study)
            remaining = trials - len(counted(study))
            if remaining > 0:
                study.optimize(self._objective, n_trials=remaining, timeout=timeout, catch=(MarginRankError,),
                               callbacks=[self._finished])
            return study

    def open(self) -> Any:
        """The study in ``out/study.db``: created, or loaded if it is there and was started with these
        settings, space and training pairs."""
        optuna = self.optuna
        sampler = optuna.samplers.TPESampler(seed=self.seed, n_startup_trials=self.startup_trials)
        pruner = (optuna.pruners.MedianPruner(n_startup_trials=PRUNER_STARTUP_TRIALS, n_warmup_steps=self.prune_warmup + 1)
                  if self.prune else optuna.pruners.NopPruner())
        storage = f"sqlite:///{(self.out / STUDY_FILE).resolve()}"
        study = optuna.create_study(storage=storage, study_name=STUDY_NAME, direction="maximize", sampler=sampler,
                                    pruner=pruner, load_if_exists=True)
        identity = self._identity()
        stored = study.user_attrs.get("identity")
        if stored is None:
            study.set_user_attr("identity", identity)
        elif stored != identity:
            raise MarginRankError(f"this study was started with other {', '.join(_differences(stored, identity))}: resume it "
                                  "with the same, or search into another folder", path=str(self.out / STUDY_FILE))
        return study

    def _identity(self) -> dict[str, Any]:
        """What a resumed study must share with this search: settings, space, training pairs."""
        settings = {key: value for key, value in dataclasses.asdict(self.params).items() if key not in DISPLAY_SETTINGS}
        data = {"pairs": len(self.train), "users": self.train.n_users, "items": self.train.n_items}
        return json.loads(json.dumps({"settings": settings, "space": self.space.to_table(), "training pairs": data}))

    def _retry_interrupted(self, study: Any) -> None:
        """A trial left running by a killed search is marked failed and interrupted; every interrupted
        trial not yet retried is queued again with its settings."""
        optuna = self.optuna
        for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            optuna.trial.Trial(study, trial._trial_id).set_user_attr("interrupted", True)
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
        every = study.get_trials(deepcopy=False)
        retried = {trial.user_attrs.get("retry_of") for trial in every}
        for trial in every:
            if trial.user_attrs.get("interrupted") and trial.number not in retried and trial.params:
                study.enqueue_trial(trial.params, user_attrs={"retry_of": trial.number})

    # ------------------------------------------------------------------------------- a trial
    def _objective(self, trial: Any) -> float:
        drawn = self.space.sample(trial)
        trial.set_user_attr("settings", drawn)
        params = dataclasses.replace(self.space.apply(self.params, drawn), refit=False)
        run_dir = trial_dir(self.out, trial.number)
        started = time.perf_counter()

        def start() -> None:
            if self.on_trial_start is not None:
                self.on_trial_start(run_dir, params)

        try:
            recommender = Recommender(**vars(params)).fit(
                self.train, run_dir=run_dir, on_start=start, on_evaluation=ReportToTrial(trial, params.monitor),
            )
        except KeyboardInterrupt:
            trial.set_user_attr("interrupted", True)
            raise
        except MarginRankError as error:
            trial.set_user_attr("error", str(error))
            raise
        finally:
            trial.set_user_attr("seconds", time.perf_counter() - started)
        result = recommender.result_
        trial.set_user_attr("best_epoch", result.best_epoch)
        trial.set_user_attr("epochs_run", result.epochs_trained)
        return result.best_metrics[params.monitor]

    def _finished(self, study: Any, trial: Any) -> None:
        """After each trial: its checkpoints removed (the study resumes by trials), one line reported."""
        for name in ("last.pt", "best.pt"):
            (trial_dir(self.out, trial.number) / name).unlink(missing_ok=True)
        if self.report is not None:
            self.report(trial_line(study, trial, self.params.monitor))


def _differences(stored: dict[str, dict], current: dict[str, dict]) -> list[str]:
    """``"settings lr"``, ``"space loss_params.margin"``: the entries in which two identities differ."""
    return [f"{section} {key}" for section in sorted(stored.keys() | current.keys())
            for key in sorted(stored.get(section, {}).keys() | current.get(section, {}).keys())
            if stored.get(section, {}).get(key) != current.get(section, {}).get(key)]
