"""One trial subprocess: parameters in, metric or failure (with stderr's tail) out."""

import json
import os
from pathlib import Path

import pytest
from tune_helpers import FAKE_COMMAND

from nasops.trial import SEQUENCE_ID_ENV
from nasops.tune import runner
from nasops.tune.runner import read_results, run_trial, trial_environment

PARAMETERS = {
    "first_conv": {"_value": "conv3x3", "_idx": 1},
    "skip": {"_value": ["stem"], "_idx": [0]},
}


def _run(tmp_path: Path, number: int = 0, **kwargs):
    env = {SEQUENCE_ID_ENV: str(number), **kwargs.pop("extra_env", {})}
    return run_trial(FAKE_COMMAND, PARAMETERS, tmp_path / "trial", extra_env=env, **kwargs)


def test_a_trial_reports_the_metric_of_its_parameters(tmp_path: Path):
    outcome = _run(tmp_path)
    assert (outcome.value, outcome.intermediate, outcome.failure) == (2.5, [(0, 1.25)], None)
    assert json.loads((tmp_path / "trial" / "parameters.json").read_text()) == PARAMETERS


def test_a_crashing_trial_fails_with_its_exit_status_and_stderr_tail(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FAKE_CRASH", "4")
    outcome = _run(tmp_path, number=4)
    assert outcome.value is None
    assert outcome.failure == "exited with status 3"
    assert outcome.stderr_tail.endswith("boom in trial 4")


def test_a_silent_trial_fails_as_reporting_nothing(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FAKE_SILENT", "0")
    outcome = _run(tmp_path)
    assert (outcome.value, outcome.failure) == (None, "reported no final result")


def test_a_trial_past_its_timeout_is_killed_and_fails(tmp_path: Path, monkeypatch):
    monkeypatch.setenv("FAKE_HANG", "0")
    beats = []
    outcome = _run(tmp_path, timeout=0.6, heartbeat=lambda: beats.append(1), heartbeat_interval=0.2)
    assert (outcome.value, outcome.failure) == (None, "timed out after 0.6 s")
    assert beats  # the worker kept the trial alive in the storage while it ran


def test_results_keep_the_last_final_and_flag_what_is_not_a_finite_number(tmp_path: Path):
    path = tmp_path / "results.jsonl"
    lines = [
        {"type": "PERIODICAL", "sequence": 0, "value": 0.1},
        {"type": "FINAL", "sequence": 0, "value": 0.2},
        {"type": "FINAL", "sequence": 0, "value": 0.3},
    ]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    assert read_results(path) == (0.3, [(0, 0.1)], None)
    path.write_text('{"type": "FINAL", "sequence": 0, "value": NaN}\n')
    final, _, problem = read_results(path)
    assert final is None and "not a finite number" in problem


def test_the_nni_shim_comes_first_on_the_trials_path_when_no_nni_is_installed(monkeypatch):
    if runner.importlib.machinery.PathFinder.find_spec("nni") is not None:
        pytest.skip("a real nni is installed: trials use it")
    monkeypatch.setenv("PYTHONPATH", "elsewhere")
    monkeypatch.setenv("NNI_GEN_SEARCH_SPACE", "left over from ss-gen")
    env = trial_environment()
    assert env["PYTHONPATH"].split(os.pathsep) == [str(runner.SHIM_DIR), "elsewhere"]
    assert "NNI_GEN_SEARCH_SPACE" not in env
