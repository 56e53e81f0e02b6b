"""Fixtures of the ``nasops tune`` tests: the fake trial's command, and tune options on it."""

import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from fake_trial import SPACE

from nasops.tune.options import TuneOptions

FAKE_TRIAL = Path(__file__).with_name("fake_trial.py")
FAKE_COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_TRIAL))}"


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
