"""``nasops search`` under a launcher's environment (what torchrun sets), 2 gloo ranks: one
search, rank 0 alone retrains, writes and reports; the others write nothing."""

import pytest
import torch.distributed as dist
from dist_harness import RankGroup

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list:
    return RankGroup("search", tmp_path_factory.mktemp("search")).finish()


def test_every_rank_succeeds_and_leaves_the_group(ranks: list) -> None:
    assert [r["code"] for r in ranks] == [0, 0]
    assert not any(r["joined"] for r in ranks)


def test_rank_0_alone_writes(ranks: list) -> None:
    first, second = ranks
    assert first["result"]["ranks"] == 2
    assert first["arch"] == first["result"]["architecture"]
    assert second["result"] is None and second["arch"] is None
