"""Run one trial as a subprocess: its parameters in, its reported results and verdict out."""

import importlib.machinery
import json
import math
import os
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nasops._process_group import kill_process_group
from nasops.trial import PARAMETERS_ENV, RESULTS_ENV

SHIM_DIR = Path(__file__).parent / "shim"
STDERR_TAIL_LINES = 20
STDERR_TAIL_CHARS = 2000


@dataclass
class TrialOutcome:
    """What a finished trial reported; ``failure`` is set (and ``value`` None) when it failed."""

    value: float | None
    intermediate: list[tuple[int, float]] = field(default_factory=list)
    failure: str | None = None
    stderr_tail: str = ""


def trial_environment() -> dict[str, str]:
    """The trial's environment: ours, plus the ``nni`` shim when no real nni is importable.

    A real nni (found on ``sys.path``, whatever ``sys.modules`` holds) is left to the trial.
    """
    env = dict(os.environ)
    env.pop("NNI_GEN_SEARCH_SPACE", None)  # set only while ss-gen runs the trial
    if importlib.machinery.PathFinder.find_spec("nni") is None:
        paths = [str(SHIM_DIR), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
        env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


def _metric(value: Any) -> float | None:
    """A reported metric as a float (``nasops.trial`` writes the number it optimises)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def read_results(path: Path) -> tuple[float | None, list[tuple[int, float]], str | None]:
    """The last FINAL metric, the PERIODICAL ones and the problem with them, if any."""
    final, intermediate, problem = None, [], None
    lines = path.read_text().splitlines() if path.exists() else []
    for line in filter(str.strip, lines):
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            problem = f"unreadable result line {line[:80]!r}"
            continue
        value = _metric(record.get("value")) if isinstance(record, dict) else None
        if value is None:
            problem = f"result {line[:80]} is not a finite number"
        elif record.get("type") == "FINAL":
            final = value
        elif record.get("type") == "PERIODICAL":
            intermediate.append((int(record.get("sequence", len(intermediate))), value))
    return final, intermediate, problem


def _tail(path: Path) -> str:
    if not path.exists():
        return ""
    lines = path.read_text(errors="replace").splitlines()[-STDERR_TAIL_LINES:]
    return "\n".join(lines)[-STDERR_TAIL_CHARS:]


def run_trial(
    command: str,
    parameters: dict[str, Any],
    trial_dir: Path,
    timeout: float | None = None,
    heartbeat: Callable[[], None] = lambda: None,
    heartbeat_interval: float = 30.0,
    extra_env: dict[str, str] | None = None,
) -> TrialOutcome:
    """Run ``command`` through the shell with ``parameters``, and judge what it reported.

    The trial reads ``parameters.json`` (NNI's tuner format) through ``NASOPS_TRIAL_PARAMETERS``
    and appends its results to ``results.jsonl`` through ``NASOPS_TRIAL_RESULTS``; its stdout
    and stderr go to ``stdout.log`` and ``stderr.log`` in ``trial_dir``. ``heartbeat`` is called
    every ``heartbeat_interval`` seconds while it runs; ``extra_env`` adds variables (the trial's
    ids). A trial that exits non-zero, runs past
    ``timeout`` seconds or reports no final metric fails. On KeyboardInterrupt the trial is
    killed before the interrupt goes on.
    """
    trial_dir.mkdir(parents=True, exist_ok=True)
    parameters_path, results_path = trial_dir / "parameters.json", trial_dir / "results.jsonl"
    parameters_path.write_text(json.dumps(parameters, indent=1))
    results_path.unlink(missing_ok=True)
    env = {**trial_environment(), **(extra_env or {})}
    env[PARAMETERS_ENV], env[RESULTS_ENV] = str(parameters_path), str(results_path)
    stderr_path = trial_dir / "stderr.log"
    deadline = None if timeout is None else time.monotonic() + timeout
    with open(trial_dir / "stdout.log", "wb") as stdout, open(stderr_path, "wb") as stderr:
        process = subprocess.Popen(
            command, shell=True, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
        try:
            timed_out = _wait(process, deadline, heartbeat, heartbeat_interval)
        except BaseException:
            kill_process_group(process)
            raise
    final, intermediate, problem = read_results(results_path)
    if timed_out:
        failure = f"timed out after {timeout:g} s"
    elif process.returncode != 0:
        failure = f"exited with status {process.returncode}"
    elif final is None:
        failure = problem or "reported no final result"
    else:
        return TrialOutcome(final, intermediate)
    return TrialOutcome(None, intermediate, failure, _tail(stderr_path))


def _wait(
    process: subprocess.Popen,
    deadline: float | None,
    heartbeat: Callable[[], None],
    interval: float,
) -> bool:
    """Wait for the trial, beating the heart; True when it ran past the deadline (killed)."""
    while True:
        wait = interval if deadline is None else min(interval, deadline - time.monotonic())
        try:
            process.wait(timeout=max(wait, 0.0))
            return False
        except subprocess.TimeoutExpired:
            if deadline is not None and time.monotonic() >= deadline:
                kill_process_group(process)
                return True
            heartbeat()
