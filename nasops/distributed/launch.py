"""Joining the process group a launcher (``torchrun``) describes in the environment, and the
DDP wrapper for users' own training loops."""

import datetime
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn

from nasops.distributed.failure import collective

DEFAULT_TIMEOUT_SECONDS = 300.0
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")
_joined = False


def launched_distributed() -> bool:
    """The environment describes a process group of two or more ranks (torchrun sets it)."""
    return all(v in os.environ for v in LAUNCHER_VARIABLES) and int(os.environ["WORLD_SIZE"]) > 1


def init_from_env(
    device: torch.device, timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
) -> torch.device:
    """Join the launcher's process group (gloo on the CPU, nccl on CUDA) and return the device
    this rank runs on: for CUDA, ``cuda:LOCAL_RANK``. A collective that waits longer than
    ``timeout_seconds`` for a rank fails instead of hanging."""
    if timeout_seconds <= 0:
        raise ValueError(f"the process-group timeout must be positive, got {timeout_seconds}")
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        global _joined
        dist.init_process_group(
            "nccl" if device.type == "cuda" else "gloo",
            timeout=datetime.timedelta(seconds=timeout_seconds),
        )
        _joined = True
    return device


def leave(wait: bool = True) -> None:
    """Leave the process group :func:`init_from_env` joined, once every rank got here
    (``wait``), or at once; a group the caller made is left alone. Afterwards each process
    works on its own."""
    global _joined
    if _joined and dist.is_initialized():
        if wait:
            with collective("waiting for every rank to finish the search"):
                dist.barrier()
        dist.destroy_process_group()
    _joined = False


def wrap_ddp(model: nn.Module, **ddp_options: Any) -> nn.Module:
    """``model`` in ``DistributedDataParallel`` for a single-path supernet in a user's own loop:
    ``find_unused_parameters=True`` unless given (a step leaves the other candidates unused).
    nasops' trainers need no wrapper: they average the active gradients themselves, which is
    faster (see docs/distributed.md)."""
    ddp_options.setdefault("find_unused_parameters", True)
    return nn.parallel.DistributedDataParallel(model, **ddp_options)
