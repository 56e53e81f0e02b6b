"""The tuner loop on an SQLite study: verdicts, outputs, resuming, and which trials count."""

import csv
import json
from pathlib import Path

import pytest

from nasops.tune import run
from nasops.tune.errors import TuneInputError
from nasops.tune.run import run_study
from nasops.tune.space import SearchSpace
from nasops.tune.study import NOT_RUN, claim_trial, counted, open_storage, open_study

optuna = pytest.importorskip("optuna", reason="nasops tune needs the [tune] extra (optuna)")
sqlalchemy = pytest.importorskip("sqlalchemy", reason="Optuna's RDB storage needs sqlalchemy")
TrialState = optuna.trial.TrialState


def _rows(out: Path) -> list[dict]:
    with open(out / "trials.csv", newline="") as file:
        return list(csv.DictReader(file))


def test_five_trials_with_a_crash_and_a_silent_one_then_a_resume(
    fake_space, tune_options, monkeypatch
):
    monkeypatch.setenv("FAKE_CRASH", "1")
    monkeypatch.setenv("FAKE_SILENT", "2")
    options = tune_options(trials=5)
    result = run_study(options, fake_space)
    assert (result.finished, result.completed, result.ran) == (5, 3, 5)
    rows = _rows(options.out)
    assert [r["state"] for r in rows] == ["COMPLETE", "FAIL", "FAIL", "COMPLETE", "COMPLETE"]
    assert rows[1]["failure"] == "exited with status 3"
    assert rows[1]["stderr_tail"].endswith("boom in trial 1")
    assert rows[2]["failure"] == "reported no final result"
    best = max((r for r in rows if r["value"]), key=lambda r: float(r["value"]))
    assert result.best_value == float(best["value"])
    arch = json.loads((options.out / "best_arch.json").read_text())
    assert arch == {
        "first_conv": [best["first_conv"] == "conv5x5", best["first_conv"] == "conv3x3"],
        "skip": [best["skip"] == "stem"],
    }
    assert (options.out / "trials.png").stat().st_size > 0

    resumed = run_study(tune_options(trials=7), fake_space)  # the same storage: more trials
    assert (resumed.finished, resumed.ran) == (7, 2)
    assert [r["number"] for r in _rows(options.out)] == [str(n) for n in range(7)]
    assert run_study(tune_options(trials=7), fake_space).ran == 0  # target met: outputs only


def test_minimize_picks_the_lowest_metric_with_a_progress_bar(fake_space, tune_options, capsys):
    result = run_study(
        tune_options(trials=4, direction="minimize", seed=1, progress=True), fake_space
    )
    assert "nasops tune: 100%" in capsys.readouterr().err
    values = [float(r["value"]) for r in _rows(result.out)]
    assert result.best_value == min(values)


def test_ctrl_c_keeps_the_finished_trials_and_a_rerun_replaces_the_stopped_one(
    fake_space, tune_options, monkeypatch
):
    monkeypatch.setenv("FAKE_HANG", "1")

    def interrupt(storage, trial):  # Ctrl-C while trial 1 hangs, at its first heartbeat
        def beat():
            raise KeyboardInterrupt

        return beat

    monkeypatch.setattr(run, "heartbeat", interrupt)
    stopped = run_study(tune_options(trials=3, heartbeat=1), fake_space)
    assert (stopped.interrupted, stopped.finished, stopped.ran) == (True, 1, 1)
    rows = _rows(stopped.out)
    assert [(r["state"], r["failure"]) for r in rows] == [
        ("COMPLETE", ""),
        ("FAIL", "interrupted (Ctrl-C) before it finished"),
    ]
    monkeypatch.undo()
    resumed = run_study(tune_options(trials=3), fake_space)
    assert (resumed.interrupted, resumed.finished, resumed.ran) == (False, 3, 2)


def test_a_trial_asked_past_the_target_by_a_racing_worker_is_not_run(
    fake_space, tune_options, monkeypatch
):
    options = tune_options(trials=1)
    options.out.mkdir()
    storage = open_storage(options)
    study = open_study(options, storage, fake_space)
    ask = study.ask

    def raced_ask():
        ask()  # another worker takes the only place between this one's count and its ask
        return ask()

    monkeypatch.setattr(study, "ask", raced_ask)
    assert claim_trial(study, storage, 1) is None
    first, second = study.get_trials()
    assert first.state == TrialState.RUNNING
    assert second.state == TrialState.FAIL and NOT_RUN in second.user_attrs
    assert counted([first, second]) == [first]


def test_a_dead_workers_trial_is_run_again_with_its_parameters_in_its_place(
    fake_space, tune_options
):
    options = tune_options(trials=2)
    options.out.mkdir()
    storage = open_storage(options)
    study = open_study(options, storage, fake_space)
    dead = claim_trial(study, storage, 2)
    SearchSpace.parse(fake_space).suggest(dead)  # then its worker died: no more heartbeats
    with sqlalchemy.create_engine(options.storage_url).begin() as connection:
        connection.execute(sqlalchemy.text("UPDATE trial_heartbeats SET heartbeat = '2000-01-01'"))
    result = run_study(options, fake_space)
    assert (result.ran, result.finished) == (2, 2)
    rows = _rows(options.out)
    assert [(r["state"], r["failure"]) for r in rows] == [
        ("FAIL", "retried"),
        ("COMPLETE", ""),
        ("COMPLETE", ""),
    ]
    assert study.get_trials()[1].params == study.get_trials()[0].params


def test_a_resumed_study_must_keep_its_direction_and_search_space(fake_space, tune_options):
    run_study(tune_options(trials=1), fake_space)
    with pytest.raises(TuneInputError, match="maximizes its metric, --direction is minimize"):
        run_study(tune_options(trials=1, direction="minimize"), fake_space)
    other = {"conv": {"_type": "layer_choice", "_value": ["a", "b"]}}
    with pytest.raises(TuneInputError, match="another search space"):
        run_study(tune_options(trials=1), other)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "is not a database URL"),
        ("nosuchdb://host/db", "--storage nosuchdb://host/db: "),
        (
            "postgresql://u:secret@127.0.0.1:1/db",
            r"--storage postgresql\+psycopg2://u:\*\*\*@127.0.0.1:1/db: ",
        ),
    ],
)
def test_a_bad_storage_url_is_one_input_error_without_the_password(
    fake_space, tune_options, url, message
):
    with pytest.raises(TuneInputError, match=message) as error:
        open_storage(tune_options(storage=url))
    assert "secret" not in str(error.value) and "\n" not in str(error.value)
