"""``nasops search`` under a launcher's environment (what torchrun sets), 2 gloo ranks: one
search, rank 0 alone retrains, writes and reports; the others write nothing."""

import pytest
import torch.distributed as dist
from dist_harness import HAS_FORK, RankGroup

pytestmark = [
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing"),
    pytest.mark.skipif(not HAS_FORK, reason="the ranks are forked (no fork on this platform)"),
]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list:
    return RankGroup("search", tmp_path_factory.mktemp("search")).finish()


def test_every_rank_succeeds_and_leaves_the_group(ranks: list) -> None:
    assert [r["code"] for r in ranks] == [0, 0]
    assert not any(r["joined"] for r in ranks)


@pytest.fixture(scope="module")
def survivor(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("search-killed")
    return RankGroup("search-killed", folder, pg_timeout=3, wait_for=(0,)).finish()[0]


def test_a_killed_rank_ends_the_command_in_one_line(survivor: dict) -> None:
    assert survivor["code"] == 1
    lines = survivor["stderr"].strip().splitlines()
    assert len(lines) == 1, survivor["stderr"]
    assert lines[0].startswith("nasops search: nasops.distributed: ")
    assert "rank 1 died or hung" in lines[0]
    assert survivor["result"] is None  # nothing written after the failure
    assert survivor["seconds"] < 60


def test_rank_0_alone_writes(ranks: list) -> None:
    first, second = ranks
    assert first["result"]["ranks"] == 2
    assert first["arch"] == first["result"]["architecture"]
    assert second["result"] is None and second["arch"] is None
