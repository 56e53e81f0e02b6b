"""``GdasTrainer``: GDAS search, alternating an architecture step and a weight step per batch."""

import logging
from typing import Any

import torch
from torch import nn

from nasops.algorithms.base import OneShotTrainer
from nasops.algorithms.gdas.mutator import GdasMutator

_logger = logging.getLogger("nasops.algorithms")


class GdasTrainer(OneShotTrainer):
    """GDAS on the DARTS recipe: ``dataset_train`` is split in two halves; each step first
    trains the logits on a batch of the second half, then the weights on a batch of the first,
    each on a fresh Gumbel sample (one candidate per LayerChoice).

    Args:
        model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, batch_size,
        workers, device, log_frequency, callbacks: as for
            :class:`nasops.algorithms.base.OneShotTrainer` (NNI's trainer arguments).
        mutator: a :class:`GdasMutator`; by default one is built on ``model``.
        arc_learning_rate: learning rate of the logits' Adam (``betas=(0.5, 0.999)``,
            ``weight_decay=1e-3``, as DARTS).
        tau_max, tau_min: the temperature schedule's endpoints (see
            :meth:`GdasMutator.set_temperature`); ``None`` keeps the mutator's (10 and 0.1 for
            the default one). The temperature is set at the start of every epoch.

    Validation runs the argmax architecture, the one ``export()`` writes.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Any,
        metrics: Any,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset_train: Any,
        dataset_valid: Any,
        mutator: GdasMutator | None = None,
        batch_size: int = 64,
        workers: int = 4,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        callbacks: list[Any] | None = None,
        arc_learning_rate: float = 3.0e-4,
        tau_max: float | None = None,
        tau_min: float | None = None,
    ) -> None:
        if mutator is None:
            mutator = GdasMutator(model)
        mutator.set_temperature_range(
            mutator.tau_max if tau_max is None else tau_max,
            mutator.tau_min if tau_min is None else tau_min,
        )
        super().__init__(
            model,
            mutator,
            loss,
            metrics,
            optimizer,
            num_epochs,
            dataset_train,
            dataset_valid,
            batch_size,
            workers,
            device,
            log_frequency,
            callbacks,
            split_train=True,
        )
        self.ctrl_optim = torch.optim.Adam(
            self.mutator.parameters(), arc_learning_rate, betas=(0.5, 0.999), weight_decay=1.0e-3
        )

    def train_one_epoch(self, epoch: int) -> Any:
        """Set this epoch's temperature, then train it."""
        tau = self.mutator.set_temperature(epoch, self.num_epochs)
        _logger.info("Epoch %d Gumbel-softmax temperature %.4g", epoch + 1, tau)
        return super().train_one_epoch(epoch)

    def train_step(self, batch: Any) -> dict[str, float]:
        """An architecture step on the valid batch, then a weight step on the train batch."""
        (trn_X, trn_y), (val_X, val_y) = batch
        self.architecture_step(val_X, val_y)
        # The weight step's sample needs no graph to the logits: its gradient would be dropped.
        with torch.no_grad():
            self.mutator.reset()
        return self.weight_step(trn_X, trn_y)

    def architecture_step(self, X: torch.Tensor, y: torch.Tensor) -> None:
        """One Adam step of the logits through the straight-through weights of a new sample."""
        self.ctrl_optim.zero_grad()
        self.mutator.reset()
        _, loss = self.logits_and_loss(X, y)
        loss.backward()
        self.ctrl_optim.step()

    def prepare_validation(self) -> None:
        """Validate the argmax architecture, not a random Gumbel draw."""
        self.mutator.use_final_architecture()
