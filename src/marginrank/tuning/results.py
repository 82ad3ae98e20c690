"""What a study found: the best trial, one line per trial, and the summary a search writes
(``summary.json``): every trial with its state, value, settings, seconds and per-epoch validation
curve, the best trial, and the parameters' importances."""

from __future__ import annotations

from typing import Any

from marginrank.tuning.space import describe

MIN_TRIALS_FOR_IMPORTANCE = 4  # completed trials before importances are estimated


def counted(study: Any) -> list[Any]:
    """The trials that count towards the cap: finished, and not cut short by an interruption."""
    return [trial for trial in study.get_trials(deepcopy=False)
            if trial.state.is_finished() and not trial.user_attrs.get("interrupted")]


def best_trial(study: Any) -> Any | None:
    """The completed trial with the highest value (the earliest of equals), if any completed."""
    complete = [trial for trial in study.get_trials(deepcopy=False) if trial.state.name == "COMPLETE"]
    return max(complete, key=lambda trial: (trial.value, -trial.number)) if complete else None


def trial_line(study: Any, trial: Any, monitor: str) -> str:
    """``trial 3: validation recall@20 0.1234 (best 0.1301, trial 1) in 12.3 s: lr=0.001, ...``."""
    state = trial.state.name
    if state == "COMPLETE":
        best = best_trial(study)
        outcome = f"validation {monitor} {trial.value:.4f} (best {best.value:.4f}, trial {best.number})"
    elif state == "PRUNED":
        outcome = f"pruned at epoch {trial.last_step} (validation {monitor} {trial.intermediate_values[trial.last_step]:.4f})"
    else:
        reason = "interrupted" if trial.user_attrs.get("interrupted") else trial.user_attrs.get("error", "failed")
        outcome = f"failed: {reason}"
    seconds = trial.user_attrs.get("seconds", 0.0)
    return f"trial {trial.number}: {outcome} in {seconds:.1f} s: {describe(trial.user_attrs.get('settings', {}))}"


def summarize(study: Any, monitor: str) -> dict[str, Any]:
    """The study as plain values (what ``summary.json`` holds)."""
    trials = [_trial(trial) for trial in study.get_trials(deepcopy=False) if trial.state.name != "WAITING"]
    best = best_trial(study)
    importances, note = importances_of(study)
    states = [trial["state"] for trial in trials]
    return {
        "monitor": monitor,
        "split": "validation",
        "direction": "maximize",
        "counts": {state: states.count(state) for state in ("complete", "pruned", "fail", "running")},
        "seconds": sum(trial["seconds"] or 0.0 for trial in trials),
        "best": None if best is None else {"trial": best.number, "value": best.value, "settings": best.user_attrs["settings"]},
        "importances": importances,
        "importances_note": note,
        "trials": trials,
    }


def importances_of(study: Any) -> tuple[dict[str, float] | None, str | None]:
    """Optuna's parameter importances (over the sampled parameters), or ``None`` and why not."""
    import optuna

    complete = [trial for trial in study.get_trials(deepcopy=False) if trial.state.name == "COMPLETE"]
    if len(complete) < MIN_TRIALS_FOR_IMPORTANCE:
        return None, f"{len(complete)} completed trials; importances need {MIN_TRIALS_FOR_IMPORTANCE}"
    if len({trial.value for trial in complete}) < 2:
        return None, "every completed trial scored the same: nothing to attribute"
    try:
        return dict(optuna.importance.get_param_importances(study)), None
    except (ImportError, RuntimeError, ValueError) as error:
        return None, f"not estimated: {error}"


def _trial(trial: Any) -> dict[str, Any]:
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "state": trial.state.name.lower(),
        "value": trial.value,
        "settings": attrs.get("settings"),
        "params": trial.params,
        "seconds": attrs.get("seconds"),
        "best_epoch": attrs.get("best_epoch"),
        "epochs_run": attrs.get("epochs_run"),
        "curve": {str(step): value for step, value in sorted(trial.intermediate_values.items())},
        **{key: attrs[key] for key in ("error", "interrupted", "retry_of") if key in attrs},
    }
