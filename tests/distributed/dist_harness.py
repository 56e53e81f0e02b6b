"""Launching the ranks of a distributed test as forked processes, bounded in time, always
cleaned up. Forking (not a fresh interpreter) spares each rank the import of torch, which on a
busy machine takes longer than the test itself."""

import multiprocessing
import os
import socket
import time
from pathlib import Path
from typing import Any

import dist_worker
import torch

HAS_FORK = "fork" in multiprocessing.get_all_start_methods()
FORK = multiprocessing.get_context("fork") if HAS_FORK else None


def _warm_up() -> None:
    """Take one step of each optimizer the workers use, here, before forking: the first step
    of a process imports torch._dynamo (seconds), which the forked ranks then inherit."""
    weight = torch.nn.Parameter(torch.ones(2))
    for optimizer in (torch.optim.SGD([weight], lr=0.1), torch.optim.Adam([weight])):
        weight.sum().backward()
        optimizer.step()


_warm_up()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _rank_main(args: list[str], log: Path) -> None:
    with open(log, "w") as f:
        os.dup2(f.fileno(), 1)
        os.dup2(f.fileno(), 2)
    dist_worker.main(args)


class RankGroup:
    """``world`` processes running ``scenario`` over loopback gloo (see dist_worker.py).

    :meth:`finish` waits for the ranks in ``wait_for`` (default: all), at most ``deadline``
    seconds from the start, kills whatever still runs, and returns each rank's result
    (``None`` for a rank that saved none). Groups can run side by side.
    """

    def __init__(
        self,
        scenario: str,
        folder: Path,
        world: int = 2,
        pg_timeout: float = 30.0,
        deadline: float = 90.0,
        wait_for: tuple[int, ...] | None = None,
    ) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.outs = [folder / f"rank{r}.pt" for r in range(world)]
        self.logs = [folder / f"rank{r}.log" for r in range(world)]
        self.waited = range(world) if wait_for is None else wait_for
        self.end = time.monotonic() + deadline
        os.environ["DIST_TEST_DIR"] = str(folder)
        port = free_port()
        self.processes = []
        for r in range(world):
            args = [scenario, str(r), str(world), str(port), str(pg_timeout), str(self.outs[r])]
            assert FORK is not None, "the distributed tests fork their ranks"
            process = FORK.Process(target=_rank_main, args=(args, self.logs[r]), daemon=True)
            process.start()
            self.processes.append(process)

    def finish(self) -> list[Any]:
        try:
            for r in self.waited:
                self.processes[r].join(timeout=max(0.1, self.end - time.monotonic()))
        finally:
            for p in self.processes:
                if p.is_alive():
                    p.kill()
                p.join()
        for r in self.waited:
            code = self.processes[r].exitcode
            log = self.logs[r].read_text(errors="replace") if self.logs[r].exists() else ""
            assert code == 0, f"rank {r} exited with {code}:\n{log[-3000:]}"
        return [torch.load(o, weights_only=False) if o.exists() else None for o in self.outs]
