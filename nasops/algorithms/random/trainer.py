"""``RandomTrainer``: random search with weight sharing: train on random sub-networks, rank."""

import json
import logging
from typing import Any

import torch
from torch import nn

from nasops._arch_format import to_human_readable
from nasops.algorithms.base import OneShotTrainer
from nasops.algorithms.random.mutator import RandomMutator
from nasops.algorithms.ranking import rank_architectures
from nasops.distributed import is_main_process
from nasops.mutables import InputChoice, LayerChoice
from nasops.mutator import Mutator
from nasops.trainer import TorchTensorEncoder

_logger = logging.getLogger("nasops.algorithms")


class RandomTrainer(OneShotTrainer):
    """One weight step per batch on a fresh architecture from ``mutator.reset()``; after
    training, ``num_candidates`` architectures drawn by ``mutator.sample_final()`` are scored on
    ``dataset_valid`` with the shared weights, and ``export()`` writes the best.

    Args:
        model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, batch_size,
        workers, device, log_frequency, callbacks: as for
            :class:`nasops.algorithms.base.OneShotTrainer` (NNI's trainer arguments).
        mutator: the sampler (default: a :class:`RandomMutator` on ``model``); any mutator
            whose ``sample_final()`` draws a new architecture works.
        num_candidates: architectures ranked after training (lowest validation loss wins);
            0 skips the ranking, and ``export()`` then writes ``mutator.export()``, a new random
            architecture, as NNI does.

    Attributes:
        best_architecture: the ranking's winner (key → mask), ``None`` before it ran.
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
        mutator: Mutator | None = None,
        batch_size: int = 64,
        workers: int = 4,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        callbacks: list[Any] | None = None,
        num_candidates: int = 100,
    ) -> None:
        if not isinstance(num_candidates, int) or num_candidates < 0:
            raise ValueError(f"num_candidates must be an int >= 0, got {num_candidates!r}")
        super().__init__(
            model,
            mutator if mutator is not None else RandomMutator(model),
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
        )
        self.num_candidates = num_candidates
        self.best_architecture: dict[str, Any] | None = None

    def train_step(self, batch: Any) -> dict[str, float]:
        """A new random architecture, then one weight step."""
        self.mutator.reset()
        return self.weight_step(*batch)

    def train(self, validate: bool = True) -> None:
        """Train, then rank ``num_candidates`` random architectures (see the class)."""
        super().train(validate)
        if self.num_candidates:
            ranked = rank_architectures(self, self.mutator.sample_final, self.num_candidates)
            self.best_architecture = ranked[0].architecture
            _logger.info("Best of %d architectures: loss %.4f", len(ranked), ranked[0].loss)

    def export(self, file: str) -> None:
        """Write :attr:`best_architecture` in ``mutator.export()``'s format (NNI's JSON layout);
        before any ranking, ``mutator.export()`` itself."""
        if self.best_architecture is None:
            super().export(file)
            return
        exported = {
            mutable.key: to_human_readable(mutable, self.best_architecture[mutable.key])
            for mutable in self.mutator.mutables
            if isinstance(mutable, (LayerChoice, InputChoice))
        }
        if not is_main_process():  # under torch.distributed, rank 0 alone writes
            return
        with open(file, "w") as f:
            json.dump(exported, f, indent=2, sort_keys=True, cls=TorchTensorEncoder)
