"""``Trainer``: NNI v1's trainer with its helpers (``nni.nas.pytorch.trainer``).

A trainer owns the model, its mutator, the optimizer and the data, and runs ``num_epochs`` of
``train_one_epoch`` / ``validate_one_epoch`` with callbacks around each epoch. nasops'
algorithms share one loop on top of it (:class:`nasops.algorithms.base.OneShotTrainer`); user
trainers written against NNI subclass this class as they did.
"""

import json
import logging
import os
import time
from abc import abstractmethod
from typing import Any

import torch
from torch import nn

from nasops.base_mutator import BaseMutator
from nasops.base_trainer import BaseTrainer
from nasops.distributed import is_main_process

_logger = logging.getLogger("nasops.trainer")


class TorchTensorEncoder(json.JSONEncoder):
    """JSON encoder that writes tensors as lists, warning about 0/1 tensors that are not bool."""

    def default(self, o: Any) -> Any:
        if isinstance(o, torch.Tensor):
            olist = o.tolist()
            flat = o.flatten().tolist()
            if o.dtype != torch.bool and all(d == 0 or d == 1 for d in flat):
                _logger.warning(
                    "Every element in %s is either 0 or 1. "
                    "You might consider convert it into bool.",
                    olist,
                )
            return olist
        return super().default(o)


def resolve_device(device: torch.device | str | None) -> torch.device:
    """``device`` as a ``torch.device``; ``None`` picks CUDA when available, else the CPU."""
    if device is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


class Trainer(BaseTrainer):
    """A trainer with NNI's helpers; subclasses implement the two per-epoch methods.

    Args:
        model: the network with mutables.
        mutator: a mutator already built on ``model``.
        loss: called with logits and targets, returns a loss tensor.
        metrics: called with logits and targets, returns a dict of metrics, e.g.
            ``{"acc1": 0.93}``.
        optimizer: the optimizer of the model's weights.
        num_epochs: epochs ``train()`` runs.
        dataset_train: training data (a ``torch.utils.data.Dataset``).
        dataset_valid: validation/test data.
        batch_size: batch size of every loader.
        workers: data-loading worker processes.
        device: where the model runs; ``None`` picks CUDA when available.
        log_frequency: log the meters every this many steps (``None``: never).
        callbacks: :class:`nasops.callbacks.Callback` objects, built here.

    ``log_dir`` (``logs/<timestamp>``) is created only by :meth:`enable_visualization`; NNI
    created it for every trainer.
    """

    def __init__(
        self,
        model: nn.Module,
        mutator: BaseMutator,
        loss: Any,
        metrics: Any,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset_train: Any,
        dataset_valid: Any,
        batch_size: int,
        workers: int,
        device: torch.device | str | None,
        log_frequency: int | None,
        callbacks: list[Any] | None,
    ) -> None:
        self.device = resolve_device(device)
        self.model = model
        self.mutator = mutator
        self.loss = loss
        self.metrics = metrics
        self.optimizer = optimizer

        self.model.to(self.device)
        self.mutator.to(self.device)
        if isinstance(self.loss, nn.Module):
            self.loss.to(self.device)

        self.num_epochs = num_epochs
        self.dataset_train = dataset_train
        self.dataset_valid = dataset_valid
        self.batch_size = batch_size
        self.workers = workers
        self.log_frequency = log_frequency
        self.log_dir = os.path.join("logs", str(time.time()))
        self.status_writer: Any = None
        self.visualization_enabled = False
        self.callbacks = callbacks if callbacks is not None else []
        for callback in self.callbacks:
            callback.build(self.model, self.mutator, self)

    @abstractmethod
    def train_one_epoch(self, epoch: int) -> Any:
        """Train one epoch (``epoch`` counts from 0)."""

    @abstractmethod
    def validate_one_epoch(self, epoch: int) -> Any:
        """Validate once (``epoch`` is -1 when called from :meth:`validate`)."""

    def train(self, validate: bool = True) -> None:
        """Run ``num_epochs`` epochs, validating after each when ``validate``; callbacks are told
        when each epoch begins and ends."""
        for epoch in range(self.num_epochs):
            for callback in self.callbacks:
                callback.on_epoch_begin(epoch)
            _logger.info("Epoch %d Training", epoch + 1)
            self.train_one_epoch(epoch)
            if validate:
                _logger.info("Epoch %d Validating", epoch + 1)
                self.validate_one_epoch(epoch)
            for callback in self.callbacks:
                callback.on_epoch_end(epoch)

    def validate(self) -> None:
        """Validate once."""
        self.validate_one_epoch(-1)

    def export(self, file: str) -> None:
        """Write ``mutator.export()`` to ``file`` as NNI does (indent 2, sorted keys)."""
        mutator_export = self.mutator.export()
        if not is_main_process():  # under torch.distributed, rank 0 alone writes
            return
        with open(file, "w") as f:
            json.dump(mutator_export, f, indent=2, sort_keys=True, cls=TorchTensorEncoder)

    def checkpoint(self) -> None:
        """Not implemented, as in NNI: use :class:`nasops.callbacks.ModelCheckpoint`."""
        raise NotImplementedError("Not implemented yet")

    def enable_visualization(self) -> None:
        """Write ``log_dir/graph.json`` (the supernet graph) and, from now on, one line of
        ``mutator.status()`` per step to ``log_dir/log``: the files NNI's NAS UI reads."""
        sample = None
        for x, _ in self.train_loader:
            sample = x.to(self.device)[:2]
            break
        if sample is None:
            _logger.warning("Sample is %s.", sample)
        os.makedirs(self.log_dir, exist_ok=True)
        _logger.info("Creating graph json, writing to %s. Visualization enabled.", self.log_dir)
        with open(os.path.join(self.log_dir, "graph.json"), "w") as f:
            json.dump(self.mutator.graph(sample), f)
        self.status_writer = open(os.path.join(self.log_dir, "log"), "w")
        self.visualization_enabled = True

    def _write_graph_status(self) -> None:
        if self.visualization_enabled:
            print(json.dumps(self.mutator.status()), file=self.status_writer, flush=True)
