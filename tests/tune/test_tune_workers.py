"""Two ``nasops tune`` workers on one PostgreSQL study: its target met, no trial lost or rerun."""

import csv
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from tune_helpers import FAKE_COMMAND

pytest.importorskip("optuna", reason="nasops tune needs the [tune] extra (optuna)")


@pytest.mark.slow  # two worker processes importing torch, six trials
def test_two_workers_share_one_study_and_run_its_six_trials_once_each(
    postgres_url: str, tmp_path: Path
):
    import optuna

    study = f"workers-{uuid.uuid4().hex[:8]}"
    log = tmp_path / "runs.log"
    env = {**os.environ, "FAKE_LOG": str(log), "FAKE_BARRIER": "2"}
    command = [sys.executable, "-m", "nasops", "tune", "-t", FAKE_COMMAND, "--trials", "6"]
    command += ["--storage", postgres_url, "--study", study, "--sampler", "tpe", "--no-progress"]
    workers = [
        subprocess.Popen(
            [*command, "--out", str(tmp_path / name)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("a", "b")
    ]
    outputs = [worker.communicate(timeout=300) for worker in workers]
    assert [w.returncode for w in workers] == [0, 0], outputs

    runs = sorted(int(n) for n in log.read_text().split())
    storage = postgres_url.replace("postgresql://", "postgresql+psycopg2://", 1)
    trials = optuna.load_study(study_name=study, storage=storage).get_trials()
    completed = sorted(t.number for t in trials if t.state.name == "COMPLETE")
    assert runs == completed and len(completed) == 6  # each trial ran once, none lost
    assert all("nasops_not_run" in t.user_attrs for t in trials if t.number not in completed)
    workers_seen = {t.user_attrs["nasops_worker"] for t in trials if t.number in completed}
    assert len(workers_seen) == 2  # the first two trials had to run side by side
    for name in ("a", "b"):  # each worker's table lists the study's trials
        with open(tmp_path / name / "trials.csv", newline="") as file:
            assert {int(r["number"]) for r in csv.DictReader(file)} <= {t.number for t in trials}
