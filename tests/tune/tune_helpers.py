"""What the ``nasops tune`` tests share besides fixtures: the fake trial's command (a module of
its own, since ``from conftest import`` reads whichever test folder's conftest came last)."""

import shlex
import sys
from pathlib import Path

FAKE_TRIAL = Path(__file__).with_name("fake_trial.py")
FAKE_COMMAND = f"{shlex.quote(sys.executable)} {shlex.quote(str(FAKE_TRIAL))}"
