"""What ``nasops tune`` leaves in its folder: trials.csv, trials.png and best_arch.json."""

import csv
import json
from pathlib import Path
from typing import Any

from nasops.tune.space import SearchSpace
from nasops.tune.study import FAILURE, NOT_RUN, STDERR_TAIL, WORKER, counted

COLUMNS = ("number", "state", "value", "duration_s", "worker", "failure", "stderr_tail")


def _row(trial: Any, space: SearchSpace, counts: bool) -> dict[str, Any]:
    duration = trial.duration.total_seconds() if trial.duration is not None else None
    attrs = trial.user_attrs
    return {
        "number": trial.number,
        "state": trial.state.name,
        "value": "" if trial.value is None else trial.value,
        "duration_s": "" if duration is None else round(duration, 2),
        "worker": attrs.get(WORKER, ""),
        "failure": attrs.get(FAILURE, "") if counts else attrs.get(NOT_RUN, "retried"),
        "stderr_tail": attrs.get(STDERR_TAIL, ""),
        **space.describe(trial.params),
    }


def write_trials_csv(path: Path, trials: list[Any], space: SearchSpace) -> None:
    """One row per trial of the study: its state, metric, choices and why it failed.

    Trials that do not count towards ``--trials`` (not run, interrupted, retried elsewhere)
    are listed too, with the reason in ``failure``.
    """
    numbers = {t.number for t in counted(trials)}
    keys = [c.key for c in space.choices]
    with open(path, "w", newline="") as file:
        writer = csv.DictWriter(file, fieldnames=[*COLUMNS, *keys])
        writer.writeheader()
        for trial in sorted(trials, key=lambda t: t.number):
            writer.writerow(_row(trial, space, trial.number in numbers))


def write_best_arch(path: Path, trial: Any, space: SearchSpace) -> None:
    """The best trial's architecture, as ``apply_fixed_architecture`` reads it."""
    path.write_text(json.dumps(space.fixed_architecture(trial.params), indent=2) + "\n")


def write_plot(path: Path, trials: list[Any], direction: str) -> None:
    """The metric of each completed trial by number, the best so far, and the failed ones."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt
    from matplotlib.ticker import MaxNLocator

    done = sorted((t for t in counted(trials) if t.value is not None), key=lambda t: t.number)
    failed = [t.number for t in counted(trials) if t.state.name == "FAIL"]
    pick = max if direction == "maximize" else min
    best, running = [], None
    for trial in done:
        running = trial.value if running is None else pick(running, trial.value)
        best.append(running)
    figure, axes = plt.subplots(figsize=(6, 3.5), layout="constrained")
    axes.plot([t.number for t in done], [t.value for t in done], "o", label="trial")
    axes.step([t.number for t in done], best, where="post", label="best so far")
    for number in failed:
        axes.axvline(number, color="tab:red", alpha=0.3, lw=1)
    if failed:
        axes.plot([], [], color="tab:red", alpha=0.3, label="failed")
    axes.set(xlabel="trial", ylabel="metric", title=f"nasops tune ({direction})")
    axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(loc="best", fontsize="small")
    figure.savefig(path, dpi=120)
    plt.close(figure)
