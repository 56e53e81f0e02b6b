"""The ``nasops tune`` loop: ss-gen the space, then ask Optuna, run the trial, tell, repeat."""

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasops.trial import EXPERIMENT_ID_ENV, SEQUENCE_ID_ENV, TRIAL_ID_ENV
from nasops.tune import outputs
from nasops.tune.errors import TuneInputError
from nasops.tune.options import TuneOptions
from nasops.tune.runner import TrialOutcome, run_trial, trial_environment
from nasops.tune.space import SearchSpace
from nasops.tune.study import (
    claim_trial,
    finished,
    heartbeat,
    open_storage,
    open_study,
    record_interrupted,
    record_outcome,
)


@dataclass(frozen=True)
class TuneResult:
    """How the study stands after this worker's run."""

    finished: int  # trials of the study that ran to a verdict (this worker's and others')
    completed: int  # of those, the ones that reported a metric
    ran: int  # trials this worker ran
    best_number: int | None
    best_value: float | None
    interrupted: bool
    out: Path


def check_extras() -> None:
    """Fail early, naming the ``tune`` extra, when optuna or matplotlib is missing."""
    for package in ("optuna", "matplotlib"):
        if importlib.util.find_spec(package) is None:
            raise TuneInputError.missing_extra(package, "nasops tune", "tune")


def generate_space(options: TuneOptions) -> dict[str, Any]:
    """The trial command's search space: ``nasops ss-gen`` in this folder, in the trials' env."""
    from nasops.ss_gen import SearchSpaceGenError, generate_search_space

    try:
        return generate_search_space(
            options.command, Path.cwd(), options.out / "search_space.json", env=trial_environment()
        )
    except SearchSpaceGenError as error:
        raise TuneInputError(f"generating the search space: {error}") from None


def tune(options: TuneOptions) -> TuneResult:
    """Search the trial command's architectures for ``options.trials`` trials in the study."""
    check_extras()
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # the loop prints a line per trial
    options.out.mkdir(parents=True, exist_ok=True)  # ss-gen writes the space there
    storage = open_storage(options)  # a bad URL fails before the trial's dry run
    return run_study(options, generate_space(options), storage)


def run_study(
    options: TuneOptions, space_spec: dict[str, Any], storage: Any | None = None
) -> TuneResult:
    """The loop on a given search space (``nasops ss-gen``'s format), then the outputs."""
    space = SearchSpace.parse(space_spec)
    options.out.mkdir(parents=True, exist_ok=True)
    storage = open_storage(options) if storage is None else storage
    study = open_study(options, storage, space_spec)
    say, bar = _reporter(options, len(finished(study.get_trials(deepcopy=False))))
    ran, trial, interrupted = 0, None, False
    try:
        while (trial := claim_trial(study, storage, options.trials)) is not None:
            outcome = _run(options, space, study, storage, trial)
            frozen = record_outcome(study, trial, outcome)
            trial, ran = None, ran + 1
            say(_line(frozen, outcome, space))
            bar(len(finished(study.get_trials(deepcopy=False))))
    except KeyboardInterrupt:
        interrupted = True
        if trial is not None:
            record_interrupted(study, storage, trial)
    finally:
        bar(None)
    return _finish(options, space, study, ran, interrupted)


def _run(options: TuneOptions, space: SearchSpace, study: Any, storage: Any, trial: Any) -> Any:
    return run_trial(
        options.command,
        space.suggest(trial),
        options.out / "trials" / f"trial_{trial.number}",
        timeout=options.timeout,
        heartbeat=heartbeat(storage, trial),
        heartbeat_interval=options.heartbeat,
        extra_env={
            TRIAL_ID_ENV: f"{options.study}-{trial.number}",
            EXPERIMENT_ID_ENV: options.study,
            SEQUENCE_ID_ENV: str(trial.number),
        },
    )


def _line(frozen: Any, outcome: TrialOutcome, space: SearchSpace) -> str:
    choices = " ".join(f"{k}={v}" for k, v in space.describe(frozen.params).items())
    verdict = f"{outcome.value:.6g}" if outcome.failure is None else f"FAILED: {outcome.failure}"
    return f"trial {frozen.number}: {verdict}  ({choices})"


def _reporter(
    options: TuneOptions, initial: int
) -> tuple[Callable[[str], None], Callable[[int | None], None]]:
    """A line printer and a progress update (study's finished count; None closes the bar)."""
    if not options.progress:
        return print, lambda n: None
    from tqdm.auto import tqdm

    progress = tqdm(total=options.trials, initial=initial, desc="nasops tune", unit="trial")

    def update(n: int | None) -> None:
        if n is None:
            progress.close()
        else:
            progress.update(n - progress.n)

    return progress.write, update


def _finish(
    options: TuneOptions, space: SearchSpace, study: Any, ran: int, interrupted: bool
) -> TuneResult:
    trials = study.get_trials(deepcopy=False)
    done = finished(trials)
    completed = [t for t in done if t.value is not None]
    outputs.write_trials_csv(options.out / "trials.csv", trials, space)
    outputs.write_plot(options.out / "trials.png", trials, options.direction)
    best = None
    if completed:
        pick = max if options.direction == "maximize" else min
        best = pick(completed, key=lambda t: t.value)
        outputs.write_best_arch(options.out / "best_arch.json", best, space)
    return TuneResult(
        finished=len(done),
        completed=len(completed),
        ran=ran,
        best_number=None if best is None else best.number,
        best_value=None if best is None else best.value,
        interrupted=interrupted,
        out=options.out,
    )
