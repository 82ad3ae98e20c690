"""The figure of a search (``search.png``): the validation metric of every trial with the best so
far, and the parameters' importances."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from marginrank.cli.figures import integer_ticks, pyplot


def draw_search(summary: dict[str, Any], path: Path) -> None:
    """Left: each trial's value (pruned ones at their last reported epoch) and the best so far;
    right: the importances, or why there are none."""
    plt = pyplot()
    figure, (trials_axes, importance_axes) = plt.subplots(1, 2, figsize=(11, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    monitor = summary["monitor"]
    complete = [t for t in summary["trials"] if t["state"] == "complete"]
    pruned = [t for t in summary["trials"] if t["state"] == "pruned" and t["curve"]]
    trials_axes.scatter([t["number"] for t in complete], [t["value"] for t in complete], color="C0", label="completed")
    trials_axes.scatter([t["number"] for t in pruned], [list(t["curve"].values())[-1] for t in pruned], color="C3",
                        marker="x", label="pruned (last epoch)")
    best, numbers, values = float("-inf"), [], []
    for trial in complete:
        best = max(best, trial["value"])
        numbers.append(trial["number"])
        values.append(best)
    trials_axes.step(numbers, values, where="post", color="C2", label="best so far")
    trials_axes.set_xlabel("trial")
    trials_axes.set_ylabel(f"validation {monitor}")
    trials_axes.set_title(f"{len(summary['trials'])} trials")
    integer_ticks(trials_axes)
    trials_axes.legend(loc="best", fontsize="small")
    importances = summary["importances"]
    if importances:
        names = list(importances)[::-1]
        importance_axes.barh(names, [importances[name] for name in names], color="C0")
        importance_axes.set_xlabel("importance")
        importance_axes.set_title("parameter importances")
    else:
        importance_axes.axis("off")
        importance_axes.text(0.5, 0.5, f"no importances:\n{summary['importances_note']}", ha="center", va="center", wrap=True)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
