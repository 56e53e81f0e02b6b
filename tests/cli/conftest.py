"""Fixtures of the ``nasops search`` tests."""

from collections.abc import Callable
from pathlib import Path

import pytest
from search_helpers import TINY, Outcome

from nasops.cli import main


@pytest.fixture
def run_search(tmp_path: Path, capsys: pytest.CaptureFixture) -> Callable[..., Outcome]:
    """``run_search(*args, algo="darts", out=None)``: ``nasops search`` with the tiny settings
    (``args`` come after them, so they override), writing into ``tmp_path/out`` by default."""

    def run(*args: str, algo: str = "darts", out: Path | None = None) -> Outcome:
        out = tmp_path / "out" if out is None else out
        capsys.readouterr()
        code = main(["search", "--algo", algo, "--out", str(out), *TINY, *args])
        captured = capsys.readouterr()
        return Outcome(code, out, captured.out, captured.err)

    return run
