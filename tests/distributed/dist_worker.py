"""One rank of a distributed test: ``main([SCENARIO, RANK, WORLD, PORT, TIMEOUT, OUT])``.

Joins a gloo process group over loopback, seeds its generators differently from every other
rank (as users' ranks usually are), runs the scenario and saves what it returns to ``OUT``
(``torch.save``) for the test to compare across ranks.
"""

import datetime
import json
import os
import random
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.distributed as dist
from dist_spaces import BranchNet, ChainNet, EnasNet, RazorNet, accuracy, images
from torch import nn
from torch.utils.data import DataLoader

from nasops import distributed
from nasops.algorithms.darts import DartsMutator, DartsTrainer
from nasops.algorithms.enas import EnasMutator, EnasTrainer
from nasops.algorithms.gdas import GdasMutator, GdasTrainer
from nasops.algorithms.oneshot import OneshotMutator
from nasops.algorithms.proxylessnas import ProxylessNasMutator
from nasops.algorithms.random import RandomMutator, RandomTrainer
from nasops.algorithms.spos import (
    SPOSEvolution,
    SPOSSearch,
    SPOSSupernetTrainer,
    SPOSSupernetTrainingMutator,
)
from nasops.razor import NasMutator
from nasops.utils import _reset_global_mutable_counting

STEPS = 20
FAIL_AT_STEP = 3


class CollectiveCounter:
    """Counts the calls of torch.distributed's collectives (patched on the module)."""

    NAMES = ("broadcast", "broadcast_object_list", "all_reduce", "all_gather", "all_gather_object")

    def __init__(self) -> None:
        self.calls = 0
        for name in self.NAMES:
            setattr(dist, name, self._counting(getattr(dist, name)))

    def _counting(self, function: Callable[..., Any]) -> Callable[..., Any]:
        def counted(*args: Any, **kwargs: Any) -> Any:
            self.calls += 1
            return function(*args, **kwargs)

        return counted


def _mask_lists(cache: dict[str, Any]) -> dict[str, list]:
    return {key: torch.as_tensor(mask).detach().float().tolist() for key, mask in cache.items()}


def _nni_mutators() -> dict[str, Callable[[], tuple[nn.Module, Any]]]:
    def build(net: type, mutator: Callable[[nn.Module], Any]) -> Callable[[], tuple]:
        def make() -> tuple[nn.Module, Any]:
            _reset_global_mutable_counting()
            model = net()
            return model, mutator(model)

        return make

    return {
        "random": build(BranchNet, RandomMutator),
        "spos": build(BranchNet, SPOSSupernetTrainingMutator),
        "oneshot": build(BranchNet, OneshotMutator),
        "darts": build(BranchNet, DartsMutator),
        "gdas": build(BranchNet, GdasMutator),
        "enas": build(EnasNet, lambda m: EnasMutator(m, lstm_size=8)),
    }


def decisions(rank: int) -> dict[str, Any]:
    """20 resets of each mutator, and the razor mutator's 20 samples, with no sync by the test.

    Records every step's masks (ENAS: and its log-probability), the collectives made after
    the first step, and the exports."""
    counter = CollectiveCounter()
    result: dict[str, Any] = {}
    for name, make in _nni_mutators().items():
        _, mutator = make()
        steps = []
        for step in range(STEPS):
            if step == 1:
                calls = counter.calls
            mutator.reset()
            entry = _mask_lists(mutator._cache)
            if name == "enas":
                entry["log_prob"] = float(mutator.sample_log_prob)
            if name == "gdas":
                entry["soft"] = [float(w.sum()) for w in mutator._cache.values()]
            steps.append(entry)
        result[name] = {
            "steps": steps,
            "later_collectives": counter.calls - calls,
            "export": mutator.export(),
        }
    _reset_global_mutable_counting()
    proxyless = ProxylessNasMutator(ChainNet())
    for mutable in proxyless.mutable_list:  # logits as the trainer draws them: per rank
        mutable.registered_module.ap_path_alpha.data.normal_(0, 1.0)
    steps = []
    for step in range(STEPS):
        if step == 1:
            calls = counter.calls
        proxyless.reset_binary_gates()
        steps.append([m.registered_module.active_index for m in proxyless.mutable_list])
    result["proxylessnas"] = {
        "steps": steps,
        "later_collectives": counter.calls - calls,
        "export": {k: v.tolist() for k, v in proxyless.sample_final().items()},
    }
    supernet = RazorNet()
    mutator = NasMutator()
    mutator.prepare_from_supernet(supernet)
    mutator.prepare_arch_params()
    steps = []
    for step in range(STEPS):
        if step == 1:
            calls = counter.calls
        choices = mutator.sample_choices()
        mutator.set_choices(choices)
        steps.append(choices)
    result["own_draw"] = torch.rand(4).tolist()  # the rank's own stream, untouched
    _, unsynced = _nni_mutators()["random"]()
    # sample_search() called directly, outside reset(): what NNI's mutators do on every rank
    result["unsynced"] = [_mask_lists(unsynced.sample_search()) for _ in range(STEPS)]
    result["razor"] = {
        "steps": steps,
        "later_collectives": counter.calls - calls,
        "arch_params": {k: v.detach().clone() for k, v in mutator.arch_params.items()},
    }
    return result


def _trainer_arguments(model: nn.Module) -> dict[str, Any]:
    return {
        "model": model,
        "loss": nn.CrossEntropyLoss(),
        "metrics": accuracy,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        "num_epochs": 2,
        "dataset_train": images(16),
        "dataset_valid": images(8, seed=1),
        "batch_size": 4,
        "workers": 0,
        "device": "cpu",
    }


def _spos(model: nn.Module) -> Any:
    """SPOS takes loaders: the training one reads this rank's shard, validation reads all."""
    arguments = _trainer_arguments(model)
    train, valid = arguments.pop("dataset_train"), arguments.pop("dataset_valid")
    shard = distributed.ShardSampler(range(len(train)))
    arguments["train_loader"] = DataLoader(train, batch_size=4, sampler=shard)
    arguments["valid_loader"] = DataLoader(valid, batch_size=4)
    return SPOSSupernetTrainer(**arguments)


def _spos_search(model: nn.Module) -> Any:
    """SPOS end to end: the supernet, then an evolution whose mutations flip numpy's coins."""
    settings = {"max_epochs": 2, "num_select": 2, "num_population": 4, "m_prob": 0.5}
    evolution = SPOSEvolution(**settings, num_crossover=1, num_mutation=2, checkpoint_dir=None)
    return SPOSSearch(_spos(model), evolution)


TRAINERS: dict[str, tuple[type, Callable[[nn.Module], Any]]] = {
    "random": (BranchNet, lambda m: RandomTrainer(**_trainer_arguments(m), num_candidates=3)),
    "spos": (BranchNet, _spos),
    "spos_search": (ChainNet, _spos_search),
    "darts": (BranchNet, lambda m: DartsTrainer(**_trainer_arguments(m), arc_learning_rate=0.1)),
    "gdas": (BranchNet, lambda m: GdasTrainer(**_trainer_arguments(m), arc_learning_rate=0.1)),
    "enas": (
        EnasNet,
        lambda m: EnasTrainer(
            **_trainer_arguments(m),
            reward_function=lambda logits, y: accuracy(logits, y)["acc"],
            mutator=EnasMutator(m, lstm_size=8),
            child_steps=3,
            mutator_steps=2,
            mutator_steps_aggregate=2,
            mutator_lr=0.05,
        ),
    ),
}


def training(rank: int) -> dict[str, Any]:
    """Two epochs of each trainer from differently seeded ranks; the weights, buffers and
    architecture parameters after them, the exports, and which ranks wrote files."""
    result: dict[str, Any] = {}
    folder = Path(os.environ["DIST_TEST_DIR"]) / f"rank{rank}"
    folder.mkdir(exist_ok=True)
    for name, (net, build) in TRAINERS.items():
        _reset_global_mutable_counting()
        model = net()
        trainer = build(model)
        trainer.progress = False
        initial = {k: v.detach().clone() for k, v in model.state_dict().items()}
        trainer.train()
        path = folder / f"{name}-arch.json"
        trainer.export(str(path))
        inner = getattr(trainer, "trainer", trainer)  # SPOSSearch wraps its supernet trainer
        result[name] = {
            "moved": any(not torch.equal(initial[k], v) for k, v in model.state_dict().items()),
            "model": {k: v.detach().clone() for k, v in model.state_dict().items()},
            "mutator": {k: v.detach().clone() for k, v in inner.mutator.state_dict().items()},
            "export": getattr(trainer, "best", None) or inner.mutator.export(),
            "history": inner.history,
        }
        result[name]["written"] = json.loads(path.read_text()) if path.exists() else None
    return result


def ddp_loop(rank: int) -> dict[str, Any]:
    """A user's own loop on ``wrap_ddp``: random single paths, each rank on its own batch."""
    _reset_global_mutable_counting()
    model = BranchNet()
    mutator = RandomMutator(model)
    net = distributed.wrap_ddp(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    X, y = images(8, seed=10 + rank).tensors
    for _ in range(3):
        mutator.reset()
        optimizer.zero_grad()
        nn.functional.cross_entropy(net(X), y).backward()
        optimizer.step()
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _failing_loop(rank: int, fail: Callable[[], None]) -> dict[str, Any]:
    """Random-path weight steps with averaged gradients; rank 1 calls ``fail`` at step 3."""
    model = BranchNet()
    mutator = RandomMutator(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    distributed.broadcast_module(model)
    distributed.sync_optimizer(optimizer)
    X, y = images(4).tensors
    started = None
    try:
        for step in range(STEPS):
            if step == FAIL_AT_STEP:
                started = time.monotonic()
                if rank == 1:
                    fail()
            mutator.reset()
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(X), y).backward()
            optimizer.step()
    except distributed.RankFailure as error:
        return {"error": str(error), "seconds": time.monotonic() - started}
    return {"error": None}


def search_command(rank: int, world: int, port: int, timeout: str) -> dict[str, Any]:
    """``nasops search`` as torchrun starts it: the process group described in the environment,
    each rank with its own --out folder (rank 0 alone may create its own)."""
    from nasops.cli import main as cli_main

    env = {"RANK": rank, "LOCAL_RANK": rank, "WORLD_SIZE": world, "MASTER_PORT": port}
    os.environ.update({k: str(v) for k, v in env.items()}, MASTER_ADDR="127.0.0.1")
    out = Path(os.environ["DIST_TEST_DIR"]) / f"out{rank}"
    argv = ["search", "--algo", "random", "--epochs", "1", "--retrain-epochs", "1"]
    argv += ["--limit", "60", "--no-progress", "--out", str(out), "--dist-timeout", timeout]
    code = cli_main(argv)
    result, arch = (
        json.loads((out / name).read_text()) if (out / name).exists() else None
        for name in ("result.json", "arch.json")
    )
    return {"code": code, "result": result, "arch": arch, "joined": dist.is_initialized()}


def search_killed(rank: int, world: int, port: int, timeout: str) -> dict[str, Any]:
    """``nasops search`` whose rank 1 is killed at its first training step (of one: the shard
    is smaller than a batch); rank 0's exit status and what it printed to stderr."""
    import contextlib
    import io

    from nasops.algorithms.random import RandomTrainer

    original = RandomTrainer.train_step

    def dying_step(self: Any, batch: Any) -> dict[str, float]:
        if rank == 1:
            os.kill(os.getpid(), signal.SIGKILL)
        return original(self, batch)

    RandomTrainer.train_step = dying_step
    stderr = io.StringIO()
    with contextlib.redirect_stderr(stderr):
        started = time.monotonic()
        result = search_command(rank, world, port, timeout)
    return {**result, "stderr": stderr.getvalue(), "seconds": time.monotonic() - started}


def _raise_and_report() -> None:
    distributed.report_failure("ValueError: bad batch")
    sys.exit(1)


SCENARIOS: dict[str, Callable[[int], dict[str, Any]]] = {
    "sync": lambda r: {"decisions": decisions(r), "training": training(r), "ddp": ddp_loop(r)},
    "killed": lambda r: _failing_loop(r, lambda: os.kill(os.getpid(), signal.SIGKILL)),
    "hung": lambda r: _failing_loop(r, lambda: time.sleep(120)),
    "raised": lambda r: _failing_loop(r, _raise_and_report),
}


def main(argv: list[str]) -> None:
    scenario, rank, world, port, timeout, out = argv
    rank, world = int(rank), int(world)
    torch.set_num_threads(1)
    if scenario in ("search", "search-killed"):  # joins the process group itself
        run = search_command if scenario == "search" else search_killed
        torch.save(run(rank, world, int(port), timeout), out)
        return
    dist.init_process_group(
        "gloo",
        init_method=f"tcp://127.0.0.1:{port}",
        rank=rank,
        world_size=world,
        timeout=datetime.timedelta(seconds=float(timeout)),
    )
    seed = 1000 + 17 * rank  # every rank seeded differently
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    result = SCENARIOS[scenario](rank)
    torch.save(result, out)
    if result.get("error") is None:
        dist.destroy_process_group()
