"""Two gloo ranks over loopback, seeded differently: the same architecture at every reset(),
the same weights, architecture parameters and exports after training, rank 0 alone writing."""

import pytest
import torch
import torch.distributed as dist
from dist_harness import HAS_FORK, RankGroup

pytestmark = [
    pytest.mark.skipif(not dist.is_available(), reason="torch.distributed is missing"),
    pytest.mark.skipif(not HAS_FORK, reason="the ranks are forked (no fork on this platform)"),
]

MUTATORS = ("random", "spos", "oneshot", "darts", "gdas", "enas", "proxylessnas", "razor")
TRAINERS = ("random", "spos", "spos_search", "darts", "gdas", "enas")


@pytest.fixture(scope="module")
def ranks(tmp_path_factory: pytest.TempPathFactory) -> list:
    """Both ranks' results of the ``sync`` scenario (one launch for every test here)."""
    return RankGroup("sync", tmp_path_factory.mktemp("sync")).finish()


def test_ranks_are_seeded_differently(ranks: list) -> None:
    first, second = (r["decisions"]["own_draw"] for r in ranks)
    assert first != second  # sampling outside a mutator keeps each rank's own stream


def test_sampling_outside_reset_differs_across_ranks(ranks: list) -> None:
    """The control: NNI's way (each rank samples from its own generator) disagrees."""
    first, second = (r["decisions"]["unsynced"] for r in ranks)
    assert sum(a == b for a, b in zip(first, second, strict=True)) < len(first) // 2


@pytest.mark.parametrize("name", MUTATORS)
def test_every_reset_decides_alike(ranks: list, name: str) -> None:
    first, second = (r["decisions"][name] for r in ranks)
    assert len(first["steps"]) == 20
    assert first["steps"] == second["steps"]
    if name in ("random", "spos", "enas", "proxylessnas", "razor"):  # really random draws
        assert len({str(step) for step in first["steps"]}) > 1


@pytest.mark.parametrize("name", MUTATORS)
def test_no_collective_after_the_first_reset(ranks: list, name: str) -> None:
    assert ranks[0]["decisions"][name]["later_collectives"] == 0


@pytest.mark.parametrize("name", [m for m in MUTATORS if m != "razor"])
def test_exports_agree(ranks: list, name: str) -> None:
    first, second = (r["decisions"][name]["export"] for r in ranks)
    assert first == second


def test_razor_arch_params_agree(ranks: list) -> None:
    first, second = (r["decisions"]["razor"]["arch_params"] for r in ranks)
    assert first.keys() == second.keys() and first
    assert all(torch.equal(first[k], second[k]) for k in first)


def _equal_states(first: dict, second: dict) -> bool:
    return first.keys() == second.keys() and all(torch.equal(first[k], second[k]) for k in first)


@pytest.mark.parametrize("name", TRAINERS)
def test_training_keeps_weights_and_architecture_identical(ranks: list, name: str) -> None:
    first, second = (r["training"][name] for r in ranks)
    assert first["moved"]  # training changed the weights
    assert _equal_states(first["model"], second["model"])  # buffers included
    assert _equal_states(first["mutator"], second["mutator"])
    assert first["export"] == second["export"]
    valid = [[epoch["valid"] for epoch in r["history"]] for r in (first, second)]
    assert valid[0] == valid[1] and valid[0]  # same validation, on rank 0's BatchNorm stats


@pytest.mark.parametrize("name", TRAINERS)
def test_only_rank_0_writes_the_export(ranks: list, name: str) -> None:
    first, second = (r["training"][name] for r in ranks)
    assert first["written"] is not None and second["written"] is None


def test_architecture_parameters_trained(ranks: list) -> None:
    darts = ranks[0]["training"]["darts"]["mutator"]
    assert any(v.abs().max() > 1e-2 for v in darts.values())  # moved from 1e-3·randn


def test_wrap_ddp_trains_single_paths_alike(ranks: list) -> None:
    first, second = (r["ddp"] for r in ranks)
    weights = [k for k in first if "num_batches" not in k and "running" not in k]
    assert all(torch.equal(first[k], second[k]) for k in weights)


def test_ranks_read_different_shards() -> None:
    """Not a launch: the sampler's arithmetic, as two ranks would run it."""
    from nasops.distributed import ShardSampler

    shards = []
    for rank in range(2):
        sampler = ShardSampler(range(7), seed=3)
        sampler.rank, sampler.world = rank, 2
        shards.append(list(sampler))
    assert len(shards[0]) == len(shards[1]) == 4
    assert sorted(set(shards[0]) | set(shards[1])) == list(range(7))
    again = ShardSampler(range(7), seed=3)
    again.rank, again.world = 0, 2
    first_pass, second_pass = list(again), list(again)
    assert first_pass == shards[0]  # the same seed, the same shard on every rank's sampler
    assert second_pass != first_pass  # each pass reshuffles
