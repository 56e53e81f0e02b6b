"""Making a nasops trainer data-parallel: one call at the start of its ``train()``."""

from typing import Any

import torch

from nasops.distributed._state import is_distributed
from nasops.distributed.sync import broadcast_module, sync_optimizer

_PREPARED = "_nasops_distributed_prepared"


def prepare_trainer(trainer: Any) -> None:
    """Start ``trainer.model`` and ``trainer.mutator`` from rank 0's values, and average the
    gradients of every optimizer the trainer holds (weights and architecture alike) before each
    of its steps. Once per trainer; nothing without a process group of two or more ranks."""
    if not is_distributed() or getattr(trainer, _PREPARED, False):
        return
    broadcast_module(trainer.model)
    broadcast_module(trainer.mutator)
    for value in vars(trainer).values():
        if isinstance(value, torch.optim.Optimizer):
            sync_optimizer(value)
    setattr(trainer, _PREPARED, True)
