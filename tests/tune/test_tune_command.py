"""``nasops tune`` end to end: an unmodified NNI trial, and bad input as one line, exit 2."""

import csv
import importlib.util
import json
import shlex
import sys
from pathlib import Path

import pytest
from tune_helpers import FAKE_COMMAND

from nasops.cli import main

NNI_TRIAL = Path(__file__).with_name("nni_trial.py")
NNI_COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(NNI_TRIAL))}"

pytest.importorskip("optuna", reason="nasops tune needs the [tune] extra (optuna)")


def _tune(out: Path, *args: str) -> list[str]:
    return ["tune", "--out", str(out), "--sampler", "random", "--seed", "0", "--no-progress", *args]


@pytest.mark.slow  # 7 processes importing torch (2 ss-gen dry runs, 5 trials)
def test_an_unmodified_nni_trial_is_tuned_crashes_and_silence_failed_then_resumed(
    tmp_path: Path, monkeypatch, capsys
):
    if importlib.machinery.PathFinder.find_spec("nni") is not None:
        pytest.skip("a real nni is installed: this trial would run on it, not on nasops")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FAKE_CRASH", "1")
    monkeypatch.setenv("FAKE_SILENT", "2")
    out = tmp_path / "out"
    assert main(_tune(out, "-t", NNI_COMMAND, "--trials", "3")) == 0
    printed = capsys.readouterr().out
    assert "trial 1: FAILED: exited with status 1" in printed
    assert "trial 2: FAILED: reported no final result" in printed
    assert "3/3 trials finished, 1 completed; best: trial 0" in printed
    space = json.loads((out / "search_space.json").read_text())
    assert space == {"scale": {"_type": "layer_choice", "_value": ["small", "large"]}}

    assert main(_tune(out, "-t", NNI_COMMAND, "--trials", "5")) == 0  # resumes the study
    assert "5/5 trials finished, 3 completed" in capsys.readouterr().out
    with open(out / "trials.csv", newline="") as file:
        rows = list(csv.DictReader(file))
    assert [r["state"] for r in rows] == ["COMPLETE", "FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert rows[1]["stderr_tail"].endswith("RuntimeError: trial 1 crashed on purpose")
    assert {float(r["value"]) for r in rows if r["value"]} <= {0.5, 2.0}
    best = json.loads((out / "best_arch.json").read_text())
    assert best == {"scale": [False, True]}  # large, the known best (random seed 0 finds it)


def _one_line_error(capsys, *argv: str) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err
    assert err.startswith("nasops tune: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--sampler", "grid"], "--sampler 'grid' is unknown"),
        (["--direction", "up"], "--direction 'up' is unknown"),
        (["--trials", "0"], "--trials must be >= 1"),
        (["--storage", "nosuchdb://x/y"], "--storage nosuchdb://x/y"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(tmp_path: Path, capsys, args, message):
    argv = ["tune", "-t", FAKE_COMMAND, "--trials", "2", "--out", str(tmp_path), *args]
    assert message in _one_line_error(capsys, *argv)


def test_a_trial_command_failing_in_ss_gen_is_one_line_and_exit_2(tmp_path: Path, capsys):
    command = f"{shlex.quote(sys.executable)} -c 'import sys; sys.exit(4)'"
    err = _one_line_error(capsys, "tune", "-t", command, "--trials", "2", "--out", str(tmp_path))
    assert "generating the search space" in err and "exit code 4" in err


def test_missing_optuna_names_the_tune_extra(tmp_path: Path, capsys, monkeypatch):
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "optuna" else find_spec(name, *a),
    )
    err = _one_line_error(
        capsys, "tune", "-t", FAKE_COMMAND, "--trials", "2", "--out", str(tmp_path)
    )
    assert "needs optuna" in err and "pip install 'nasops[tune]'" in err


def test_a_study_where_no_trial_reports_a_metric_exits_1(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("FAKE_SILENT", "0,1")
    argv = _tune(tmp_path / "out", "-t", FAKE_COMMAND, "--trials", "2")
    assert main(argv) == 1
    assert "2/2 trials finished, 0 completed, none reported a metric" in capsys.readouterr().out
    assert not (tmp_path / "out" / "best_arch.json").exists()
