"""A rank that is killed, hangs or raises ends the others' run within a bounded time, with one
line naming it (gloo over loopback, a 3 s process-group timeout)."""

import pytest
import torch.distributed as dist
from dist_harness import HAS_FORK, RankGroup

from nasops.distributed.failure import ROLL_CALL_SECONDS

pytestmark = [
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing"),
    pytest.mark.skipif(not HAS_FORK, reason="the ranks are forked (no fork on this platform)"),
]

PG_TIMEOUT = 3.0


@pytest.fixture(scope="module")
def survivors(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Rank 0's result in each failure scenario; the three groups run side by side."""
    groups = {
        name: RankGroup(name, tmp_path_factory.mktemp(name), pg_timeout=PG_TIMEOUT, wait_for=(0,))
        for name in ("killed", "hung", "raised")
    }
    return {name: group.finish()[0] for name, group in groups.items()}


@pytest.mark.parametrize("scenario", ["killed", "hung", "raised"])
def test_the_survivor_stops_with_one_line_naming_the_rank(survivors: dict, scenario: str) -> None:
    error = survivors[scenario]["error"]
    assert error is not None
    assert "\n" not in error
    assert error.startswith("nasops.distributed: averaging gradients failed on rank 0 of 2: ")
    assert "rank 1" in error


@pytest.mark.parametrize("scenario", ["killed", "hung", "raised"])
def test_within_the_timeout_and_the_roll_call(survivors: dict, scenario: str) -> None:
    # A lost connection fails at once, a silent rank after the process-group timeout; then the
    # roll call waits ROLL_CALL_SECONDS at most. The slack covers a loaded machine.
    assert survivors[scenario]["seconds"] < PG_TIMEOUT + ROLL_CALL_SECONDS + 10


def test_a_rank_that_reports_its_reason_is_quoted(survivors: dict) -> None:
    assert "rank 1 failed: ValueError: bad batch" in survivors["raised"]["error"]
    assert "died or hung" in survivors["killed"]["error"]
    assert "died or hung" in survivors["hung"]["error"]
