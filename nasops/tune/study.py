"""The Optuna study a ``nasops tune`` worker shares with the others: storage, budget, verdicts.

Optuna owns the sampling and the storage; this module decides which trials count towards
``--trials`` (the study's total, whoever runs them) so that concurrent workers on one RDB
storage run exactly that many, none twice, and a worker that dies loses no trial:

- Optuna creates trials one at a time under a lock on the study's row, so trial numbers are
  dense and ordered. A fresh trial whose earlier counted trials already reach the target is
  not run (a surplus of a race between workers): it is failed at once, marked, and not counted.
- A worker beats a heartbeat while its trial runs. A trial whose worker stopped beating is
  failed by the next worker that asks and queued again with the same parameters (Optuna's
  RetryHeartbeatStaleTrialCallback); the retry takes over the lost trial's place in the count.
- A trial stopped by Ctrl-C is failed, marked, and not counted: a rerun runs another in its place.
"""

import os
import random
import socket
import time
import warnings
from collections.abc import Callable
from typing import Any

from nasops.tune.errors import TuneInputError
from nasops.tune.options import TuneOptions
from nasops.tune.runner import TrialOutcome

# User attributes nasops writes on a trial.
NOT_RUN = "nasops_not_run"  # why a trial was not run or not finished: it does not count
FAILURE = "nasops_failure"
STDERR_TAIL = "nasops_stderr_tail"
WORKER = "nasops_worker"
SPACE = "nasops_search_space"  # on the study: the space its trials were sampled from
MAX_RETRIES = 2  # times a trial whose worker died is queued again
CREATE_ATTEMPTS = 3


def _optuna() -> Any:
    try:
        import optuna
    except ImportError:
        raise TuneInputError.missing_extra("optuna", "nasops tune", "tune") from None
    return optuna


def _first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]


def open_storage(options: TuneOptions) -> Any:
    """Optuna's RDBStorage at ``options.storage_url``, with heartbeats and retries on."""
    optuna = _optuna()
    import sqlalchemy.exc
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(options.storage_url)
    except sqlalchemy.exc.ArgumentError:
        raise TuneInputError(
            f"--storage {options.storage_url!r} is not a database URL; accepted: an Optuna RDB "
            "URL such as sqlite:///study.db or postgresql://user:password@host/db"
        ) from None
    if parsed.drivername == "postgresql":  # SQLAlchemy 2.1 would pick psycopg 3, not the extra's
        parsed = parsed.set(drivername="postgresql+psycopg2")
    url, shown = parsed.render_as_string(False), parsed.render_as_string(True)
    for attempt in range(CREATE_ATTEMPTS):
        try:
            return _rdb_storage(optuna, url, options.heartbeat)
        except ImportError as error:  # Optuna re-raises the driver's ModuleNotFoundError
            missing = getattr(error.__cause__, "name", None) or getattr(error, "name", None)
            raise TuneInputError.missing_extra(
                missing or "a database driver", f"--storage {shown}", "tune"
            ) from None
        except sqlalchemy.exc.IntegrityError:
            # Workers starting together on a fresh database race to create Optuna's tables.
            if attempt == CREATE_ATTEMPTS - 1:
                raise
            time.sleep(0.5 + random.random())
        except (sqlalchemy.exc.SQLAlchemyError, optuna.exceptions.StorageInternalError) as error:
            raise TuneInputError(f"--storage {shown}: {_first_line(error)}") from None
    raise AssertionError("unreachable")


def _rdb_storage(optuna: Any, url: str, heartbeat: int) -> Any:
    with warnings.catch_warnings():  # heartbeats are "experimental" since Optuna 2.9
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.storages.RDBStorage(
            url,
            heartbeat_interval=heartbeat,
            grace_period=4 * heartbeat,
            heartbeat_stale_trial_callback=optuna.storages.RetryHeartbeatStaleTrialCallback(
                max_retry=MAX_RETRIES
            ),
        )


def _sampler(options: TuneOptions) -> Any:
    samplers = _optuna().samplers
    make = {
        "random": samplers.RandomSampler,
        "tpe": samplers.TPESampler,
        "nsga2": samplers.NSGAIISampler,
    }[options.sampler]
    return make(seed=options.seed)


def open_study(options: TuneOptions, storage: Any, space: dict[str, Any]) -> Any:
    """Create the study, or load it when it exists (a resumed run, or another worker's).

    Raises:
        TuneInputError: the existing study optimises the other direction, or was sampled from
            another search space (its trials could not be compared).
    """
    optuna = _optuna()
    study = optuna.create_study(
        storage=storage,
        study_name=options.study,
        sampler=_sampler(options),
        direction=options.direction,
        load_if_exists=True,
    )
    if study.direction.name.lower() != options.direction:
        raise TuneInputError(
            f"study {options.study!r} in this storage {study.direction.name.lower()}s its "
            f"metric, --direction is {options.direction}; pass the study's direction or "
            "another --study"
        )
    stored = study.user_attrs.get(SPACE)
    if stored is None:
        study.set_user_attr(SPACE, space)
    elif stored != space:
        raise TuneInputError(
            f"study {options.study!r} in this storage was sampled from another search space "
            f"(keys {sorted(stored)}, this trial command's: {sorted(space)}); use another --study"
        )
    return study


def counted(trials: list[Any]) -> list[Any]:
    """The trials that count towards ``--trials``: all but the not-run and the retried ones."""
    retried = {n for t in trials for n in t.system_attrs.get("retry_history", [])}
    return [t for t in trials if t.number not in retried and NOT_RUN not in t.user_attrs]


def finished(trials: list[Any]) -> list[Any]:
    """The counted trials that ran to a verdict (completed or failed)."""
    return [t for t in counted(trials) if t.state.is_finished()]


def worker_name() -> str:
    """This worker, as the trials table names it: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


def claim_trial(study: Any, storage: Any, target: int) -> Any | None:
    """The next trial this worker runs, or None once the study holds ``target`` trials.

    Stale trials of dead workers are failed (and queued again) first; a queued one is run
    before any new one, even at the target, since it holds a lost trial's place.
    """
    optuna = _optuna()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        optuna.storages.fail_stale_trials(study)
    trials = study.get_trials(deepcopy=False)
    waiting = any(t.state == optuna.trial.TrialState.WAITING for t in trials)
    if len(counted(trials)) >= target and not waiting:
        return None
    with warnings.catch_warnings():  # beating it ourselves, as Optuna's optimize would
        warnings.filterwarnings("ignore", "Heartbeat of storage", UserWarning)
        trial = study.ask()
    storage.record_heartbeat(trial._trial_id)  # Trial has no public id
    trial.set_user_attr(WORKER, worker_name())
    if "retry_history" in storage.get_trial(trial._trial_id).system_attrs:
        return trial
    earlier = [t for t in counted(study.get_trials(deepcopy=False)) if t.number < trial.number]
    if len(earlier) >= target:
        trial.set_user_attr(NOT_RUN, f"not run: the study already held its {target} trials")
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
        return None
    return trial


def heartbeat(storage: Any, trial: Any) -> Callable[[], None]:
    """The call that tells the storage this worker is still running ``trial``."""
    return lambda: storage.record_heartbeat(trial._trial_id)


def record_outcome(study: Any, trial: Any, outcome: TrialOutcome) -> Any:
    """Tell the study what the trial reported: its metric, or FAIL with why and stderr."""
    optuna = _optuna()
    for step, value in outcome.intermediate:
        trial.report(value, step)
    if outcome.value is not None:
        return study.tell(trial, outcome.value)
    trial.set_user_attr(FAILURE, outcome.failure)
    trial.set_user_attr(STDERR_TAIL, outcome.stderr_tail)
    return study.tell(trial, state=optuna.trial.TrialState.FAIL)


def record_interrupted(study: Any, storage: Any, trial: Any) -> None:
    """Fail a trial stopped by Ctrl-C; it does not count, so a rerun runs another.

    A trial told just before the interrupt keeps its verdict.
    """
    if storage.get_trial(trial._trial_id).state.is_finished():
        return
    trial.set_user_attr(NOT_RUN, "interrupted (Ctrl-C) before it finished")
    study.tell(trial, state=_optuna().trial.TrialState.FAIL)
