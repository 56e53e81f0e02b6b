"""Distributed supernet search on ``torch.distributed`` (gloo on CPUs, nccl on GPUs).

With a process group of two or more ranks, every mutator draws rank 0's architecture at each
``reset()`` (:func:`architecture_rng`), nasops' trainers start from rank 0's weights and
architecture parameters and average the active gradients before each optimizer step
(:func:`prepare_trainer`), read their own shard of the training data (:class:`ShardSampler`),
and only rank 0 writes files and shows progress. A collective that fails because a rank died
raises :class:`RankFailure` naming that rank. Without a process group nothing changes.
"""

from nasops.distributed._state import get_rank, get_world_size, is_distributed, is_main_process
from nasops.distributed.failure import RankFailure, report_failure
from nasops.distributed.launch import (
    DEFAULT_TIMEOUT_SECONDS,
    init_from_env,
    launched_distributed,
    leave,
    wrap_ddp,
)
from nasops.distributed.rng import architecture_rng, sampled_alike
from nasops.distributed.sampler import ShardSampler
from nasops.distributed.sync import (
    average_before_step,
    average_gradients,
    broadcast_buffers,
    broadcast_module,
    sync_optimizer,
)
from nasops.distributed.trainer import prepare_trainer

__all__ = [
    "DEFAULT_TIMEOUT_SECONDS",
    "RankFailure",
    "ShardSampler",
    "architecture_rng",
    "average_before_step",
    "average_gradients",
    "broadcast_buffers",
    "broadcast_module",
    "get_rank",
    "get_world_size",
    "init_from_env",
    "is_distributed",
    "is_main_process",
    "launched_distributed",
    "leave",
    "prepare_trainer",
    "report_failure",
    "sampled_alike",
    "sync_optimizer",
    "wrap_ddp",
]
