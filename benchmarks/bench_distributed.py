"""Data-parallel supernet training on 2 gloo ranks against 1 process, and the cost and
correctness of each way to average a single-path step's gradients (issue 18).

The supernet stacks ``--layers`` LayerChoices of 4 convolutions; every step a
:class:`~nasops.algorithms.random.RandomMutator` picks one path (the same on every rank, by
:mod:`nasops.distributed`), then one SGD step on a total batch of ``--batch`` images: all of
it in one process, or half on each of 2 ranks. The gradient averaging options:

- ``nasops``: :func:`nasops.distributed.average_before_step`, one all-reduce of the gradients
  that exist (the active path's), after the backward (what nasops' trainers do);
- ``ddp-find-unused``: ``DistributedDataParallel(find_unused_parameters=True)``, what mmrazor's
  single-path configs set;
- ``ddp-static-graph``: ``DistributedDataParallel(static_graph=True)``;
- ``ddp-plain``: ``DistributedDataParallel()`` with its defaults.

Each run starts from the same weights and draws the same paths and batches, so a correct
option ends on the 1-process weights (``max |Δw|`` is reported); an option that raises is
reported with its error. Runs are interleaved round-robin over ``--repeats``; the table gives
the median step time over all timed steps of all repeats, with the 25-75 % range.

    python benchmarks/bench_distributed.py [--steps N] [--repeats R] [--batch B] [--layers L]
"""

import argparse
import datetime
import multiprocessing
import socket
import statistics
import sys
import time
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from nasops import distributed
from nasops.algorithms.random import RandomMutator
from nasops.mutables import LayerChoice
from nasops.utils import _reset_global_mutable_counting

OPTIONS = ("nasops", "ddp-find-unused", "ddp-static-graph", "ddp-plain")
WARMUP = 3
FORK = multiprocessing.get_context("fork")


class PathNet(nn.Module):
    """A stem, ``layers`` LayerChoices of 4 convolutions (``channels`` wide), a classifier."""

    def __init__(self, layers: int, channels: int) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1)
        self.choices = nn.ModuleList(
            LayerChoice(
                [nn.Conv2d(channels, channels, k, padding=k // 2) for k in (1, 3, 5, 7)],
                key=f"layer{i}",
            )
            for i in range(layers)
        )
        self.fc = nn.Linear(channels, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        for choice in self.choices:
            x = torch.relu(choice(x))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


def _run(option: str, rank: int, world: int, port: int, args: argparse.Namespace, queue: Any):
    torch.set_num_threads(1)
    if world > 1:
        dist.init_process_group(
            "gloo",
            init_method=f"tcp://127.0.0.1:{port}",
            rank=rank,
            world_size=world,
            timeout=datetime.timedelta(seconds=60),
        )
    torch.manual_seed(0)
    _reset_global_mutable_counting()
    model = PathNet(args.layers, args.channels)
    mutator = RandomMutator(model)
    net: nn.Module = model
    if option.startswith("ddp"):
        kwargs = {
            "ddp-find-unused": {"find_unused_parameters": True},
            "ddp-static-graph": {"static_graph": True},
            "ddp-plain": {},
        }[option]
        net = nn.parallel.DistributedDataParallel(model, **kwargs)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    data = torch.Generator().manual_seed(1)
    per_rank = args.batch // world
    times, reduced, error = [], [], None
    try:
        for step in range(WARMUP + args.steps):
            X = torch.randn(args.batch, 3, args.size, args.size, generator=data)
            y = torch.randint(0, 10, (args.batch,), generator=data)
            mine = slice(rank * per_rank, (rank + 1) * per_rank)
            X, y = X[mine], y[mine]
            started = time.perf_counter()
            mutator.reset()
            optimizer.zero_grad()
            F.cross_entropy(net(X), y).backward()
            if option == "nasops":
                distributed.average_before_step(optimizer)
            optimizer.step()
            if step >= WARMUP:
                times.append(time.perf_counter() - started)
                reduced.append(_reduced_elements(option, model))
    except Exception as exception:  # the option's own failure is the result
        error = f"{type(exception).__name__}: {str(exception).strip().splitlines()[0][:120]}"
    if rank == 0:
        # A numpy copy: a tensor would travel as shared memory the exiting rank takes away.
        weights = torch.cat([p.detach().flatten() for p in model.parameters()]).numpy().copy()
        queue.put({"times": times, "reduced": reduced, "error": error, "weights": weights})
    if world > 1 and error is None:
        dist.destroy_process_group()


def _reduced_elements(option: str, model: nn.Module) -> int:
    """Gradient elements one step all-reduces: DDP reduces every parameter (zeros for the
    unused ones), nasops only the ones that have a gradient."""
    if option == "nasops":
        return sum(p.numel() for p in model.parameters() if p.grad is not None)
    if option == "single":
        return 0
    return sum(p.numel() for p in model.parameters())


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def measure(option: str, world: int, args: argparse.Namespace) -> dict[str, Any]:
    """One run of ``option`` on ``world`` forked ranks; rank 0's step times and weights."""
    queue = FORK.Queue()
    port = _free_port()
    ranks = [
        FORK.Process(target=_run, args=(option, r, world, port, args, queue), daemon=True)
        for r in range(world)
    ]
    for process in ranks:
        process.start()
    result = queue.get(timeout=600)
    for process in ranks:
        process.join(timeout=30)
        if process.is_alive():
            process.kill()
    return result


def _warm_up() -> None:
    # The first optimizer step of a process imports torch._dynamo: do it before forking.
    weight = nn.Parameter(torch.ones(2))
    weight.sum().backward()
    torch.optim.SGD([weight], lr=0.1).step()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20, help="timed steps per run")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each configuration")
    parser.add_argument("--batch", type=int, default=32, help="total batch (split over ranks)")
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--channels", type=int, default=32)
    parser.add_argument("--size", type=int, default=16, help="image height and width")
    args = parser.parse_args(argv)
    _warm_up()
    configurations = [("1 process", "single", 1)] + [(f"2 ranks, {o}", o, 2) for o in OPTIONS]
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in configurations}
    for repeat in range(args.repeats):
        shift = repeat % len(configurations)
        for name, option, world in configurations[shift:] + configurations[:shift]:
            runs[name].append(measure(option, world, args))
    reference = runs["1 process"][0]["weights"]
    single = statistics.median(t for run in runs["1 process"] for t in run["times"])
    print(
        f"single-path supernet: {args.layers} LayerChoices x 4 convs, {args.channels} channels, "
        f"{args.size}x{args.size} images, total batch {args.batch}, gloo on the CPU, 1 thread "
        f"per rank; {args.steps} timed steps x {args.repeats} runs\n"
    )
    print(
        "| configuration | step median (ms) | 25-75 % (ms) | vs 1 process "
        "| all-reduced per step (MB) | max abs dw vs 1 process |"
    )
    print("|---|---|---|---|---|---|")
    for name, _, _ in configurations:
        errors = [run["error"] for run in runs[name] if run["error"]]
        if errors:
            print(f"| {name} | fails | | | | {errors[0]} |")
            continue
        times = sorted(t for run in runs[name] for t in run["times"])
        q1, q3 = times[len(times) // 4], times[(3 * len(times)) // 4]
        median = statistics.median(times)
        drift = max(float(abs(run["weights"] - reference).max()) for run in runs[name])
        megabytes = 4e-6 * statistics.mean(n for run in runs[name] for n in run["reduced"])
        print(
            f"| {name} | {median * 1e3:.2f} | {q1 * 1e3:.2f}-{q3 * 1e3:.2f} | "
            f"{single / median:.2f}x | {megabytes:.2f} | {drift:.1e} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
