"""Fixtures of the ``nasops tune`` tests: the fake trial's command, and tune options on it."""

import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fake_trial import SPACE
from tune_helpers import FAKE_COMMAND

from nasops.tune.options import TuneOptions

POSTGRES_SCRIPT = Path(__file__).parents[2] / ".ci" / "postgres.sh"


@pytest.fixture
def fake_space() -> dict:
    """The fake trial's search space, as ss-gen reads it (skips when optuna is missing)."""
    pytest.importorskip("optuna", reason="nasops tune needs the [tune] extra (optuna)")
    return SPACE


@pytest.fixture
def tune_options(tmp_path: Path) -> Callable[..., TuneOptions]:
    """``tune_options(**overrides)``: 5 random-sampler trials of the fake trial in tmp_path/out."""

    def make(**overrides) -> TuneOptions:
        settings = {
            "command": FAKE_COMMAND,
            "trials": 5,
            "sampler": "random",
            "out": tmp_path / "out",
            "seed": 0,
            "progress": False,
        }
        return TuneOptions(**{**settings, **overrides})

    return make


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL server's URL: ``NASOPS_TEST_POSTGRES_URL`` (``.ci/run`` starts one), else a
    throwaway server started here from an installed PostgreSQL; skips, saying why, without."""
    pytest.importorskip("psycopg2", reason="PostgreSQL storage needs the [tune] extra (psycopg2)")
    url = os.environ.get("NASOPS_TEST_POSTGRES_URL")
    if url:
        yield url
        return
    started = subprocess.run(
        ["bash", str(POSTGRES_SCRIPT), "start"],
        env={**os.environ, "NASOPS_PG_NO_INSTALL": "1"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    if started.returncode != 0:
        pytest.skip(
            f"no PostgreSQL server could be started ({started.stderr.strip()}); .ci/run installs "
            "one with apt-get, or set NASOPS_TEST_POSTGRES_URL"
        )
    url, data_dir = started.stdout.split()
    yield url
    subprocess.run(["bash", str(POSTGRES_SCRIPT), "stop", data_dir], timeout=60)
