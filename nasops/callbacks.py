"""Callbacks: observers of a trainer's epochs (NNI v1's ``nni.nas.pytorch.callbacks``).

A callback is built once with the model, the mutator and the trainer, then told when each
epoch begins and ends. Callbacks only observe (or step a scheduler): the training loop itself
belongs to the trainer.
"""

import logging
import os
from typing import Any

import torch
from torch import nn

_logger = logging.getLogger("nasops.callbacks")


class Callback:
    """Base class: override ``on_epoch_begin`` / ``on_epoch_end`` (epochs count from 0)."""

    def __init__(self) -> None:
        self.model: nn.Module | None = None
        self.mutator: nn.Module | None = None
        self.trainer: Any = None

    def build(self, model: nn.Module, mutator: nn.Module, trainer: Any) -> None:
        """Attach the callback to the model, mutator and trainer it observes."""
        self.model = model
        self.mutator = mutator
        self.trainer = trainer

    def on_epoch_begin(self, epoch: int) -> None:
        """Called before epoch ``epoch`` trains."""

    def on_epoch_end(self, epoch: int) -> None:
        """Called after epoch ``epoch`` trained (and validated)."""

    def on_batch_begin(self, epoch: int) -> None:
        """Kept for NNI compatibility; NNI's trainers never call it."""

    def on_batch_end(self, epoch: int) -> None:
        """Kept for NNI compatibility; NNI's trainers never call it."""


class LRSchedulerCallback(Callback):
    """Steps ``scheduler`` at the end of every epoch.

    Args:
        scheduler: a ``torch.optim.lr_scheduler`` scheduler.
        mode: only "epoch" (as in NNI).
    """

    def __init__(self, scheduler: Any, mode: str = "epoch") -> None:
        super().__init__()
        if mode != "epoch":
            raise ValueError(f"LRSchedulerCallback: mode must be 'epoch', got {mode!r}")
        self.scheduler = scheduler
        self.mode = mode

    def on_epoch_end(self, epoch: int) -> None:
        """``scheduler.step()``."""
        self.scheduler.step()


class ArchitectureCheckpoint(Callback):
    """Writes ``trainer.export()`` to ``checkpoint_dir/epoch_{n}.json`` after every epoch.

    Args:
        checkpoint_dir: created if missing.
    """

    def __init__(self, checkpoint_dir: str) -> None:
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        os.makedirs(self.checkpoint_dir, exist_ok=True)

    def on_epoch_end(self, epoch: int) -> None:
        """Export the architecture of this epoch."""
        dest_path = os.path.join(self.checkpoint_dir, f"epoch_{epoch}.json")
        _logger.info("Saving architecture to %s", dest_path)
        self.trainer.export(dest_path)


class ModelCheckpoint(Callback):
    """Saves the model's ``state_dict`` to ``checkpoint_dir/epoch_{n}.pth.tar`` after every epoch.

    A ``DataParallel`` (or ``DistributedDataParallel``) model is saved without its wrapper.

    Args:
        checkpoint_dir: created if missing.
    """

    def __init__(self, checkpoint_dir: str) -> None:
        super().__init__()
        self.checkpoint_dir = checkpoint_dir
        os.makedirs(self.checkpoint_dir, exist_ok=True)

    def on_epoch_end(self, epoch: int) -> None:
        """Save the weights of this epoch."""
        model = self.model
        if isinstance(model, (nn.DataParallel, nn.parallel.DistributedDataParallel)):
            model = model.module
        dest_path = os.path.join(self.checkpoint_dir, f"epoch_{epoch}.pth.tar")
        _logger.info("Saving model to %s", dest_path)
        torch.save(model.state_dict(), dest_path)
