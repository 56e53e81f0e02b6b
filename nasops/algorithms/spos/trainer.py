"""``SPOSSupernetTrainer``: trains the SPOS supernet, one random path per batch."""

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn

from nasops.algorithms.base import OneShotTrainer
from nasops.algorithms.spos.mutator import SPOSSupernetTrainingMutator
from nasops.mutator import Mutator


class SPOSSupernetTrainer(OneShotTrainer):
    """Single-path one-shot supernet training: every batch draws a new architecture from the
    mutator and takes one optimizer step of the weights on it. The supernet is then searched by
    :class:`nasops.algorithms.spos.SPOSEvolution`.

    NNI's signature: the data come as ready loaders (anything iterable yielding ``(X, y)``
    with a ``len()``, e.g. a ``DataLoader`` or NNI's DALI wrapper), not datasets, so
    ``batch_size`` and ``workers`` are accepted and unused. Runs on the CPU as well as on CUDA
    (NNI asserted CUDA); no gradient clipping, as in NNI.

    Args:
        model, loss, metrics, optimizer, num_epochs, device, log_frequency, callbacks: as for
            :class:`nasops.algorithms.base.OneShotTrainer`.
        train_loader: the training batches of one epoch.
        valid_loader: the validation batches; each one runs on a new random architecture, as
            in NNI, so validation reports the supernet's average over paths.
        mutator: by default a :class:`SPOSSupernetTrainingMutator` without flops constraint.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Any,
        metrics: Any,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        train_loader: Iterable[Any],
        valid_loader: Iterable[Any],
        mutator: Mutator | None = None,
        batch_size: int = 64,
        workers: int = 4,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        callbacks: list[Any] | None = None,
    ) -> None:
        super().__init__(
            model,
            mutator if mutator is not None else SPOSSupernetTrainingMutator(model),
            loss,
            metrics,
            optimizer,
            num_epochs,
            None,
            None,
            batch_size,
            workers,
            device,
            log_frequency,
            callbacks,
            grad_clip=None,
            loaders=(train_loader, valid_loader),
        )
        self.test_loader = _ResampledPerBatch(valid_loader, self.mutator)

    def train_step(self, batch: Any) -> dict[str, float]:
        """A new random architecture, then one weight step on it."""
        self.mutator.reset()
        return self.weight_step(*batch)

    def prepare_validation(self) -> None:
        """Nothing: each validation batch samples its own architecture."""


class _ResampledPerBatch:
    """``loader``'s batches, with a ``mutator.reset()`` before each one."""

    def __init__(self, loader: Iterable[Any], mutator: Mutator) -> None:
        self.loader = loader
        self.mutator = mutator

    def __iter__(self) -> Iterator[Any]:
        for batch in self.loader:
            self.mutator.reset()
            yield batch

    def __len__(self) -> int:
        return len(self.loader)
