"""``OneshotTrainer``: trains the one-shot supernet with path dropout, then ranks sub-networks."""

import logging
from typing import Any

import torch
from torch import nn

from nasops.algorithms.base import OneShotTrainer
from nasops.algorithms.oneshot.mutator import OneshotMutator
from nasops.algorithms.ranking import rank_architectures

_logger = logging.getLogger("nasops.algorithms")


class OneshotTrainer(OneShotTrainer):
    """Weight steps on the whole supernet, a fresh path-dropout draw per batch; after training,
    ``num_candidates`` uniformly random architectures are scored on ``dataset_valid`` with the
    shared weights and the best becomes the mutator's final architecture (what ``export()``
    writes), as Bender et al. rank sub-networks by their one-shot accuracy.

    Args:
        model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, batch_size,
        workers, device, log_frequency, callbacks: as for
            :class:`nasops.algorithms.base.OneShotTrainer` (NNI's trainer arguments).
        mutator: a :class:`OneshotMutator`; by default one is built on ``model``.
        drop_rate: ``r``, the probability that an InputChoice drops all its inputs; ``None``
            keeps the mutator's (0.01 for the default one).
        num_candidates: architectures ranked after training (lowest validation loss wins);
            0 skips the ranking, and ``export()`` then writes a random architecture.
        memory: ``"default"``, or ``"recompute"``: every LayerChoice sums all its candidates,
            and the recompute mode recomputes them in backward, one at a time, instead of
            keeping their activations (on the CPU only those with weights; sets
            ``mutator.memory``; see :mod:`nasops.ops.recompute`).

    Validation runs the whole supernet without dropout.
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
        mutator: OneshotMutator | None = None,
        batch_size: int = 64,
        workers: int = 4,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        callbacks: list[Any] | None = None,
        drop_rate: float | None = None,
        num_candidates: int = 100,
        memory: str = "default",
    ) -> None:
        if not isinstance(num_candidates, int) or num_candidates < 0:
            raise ValueError(f"num_candidates must be an int >= 0, got {num_candidates!r}")
        if mutator is None:
            mutator = OneshotMutator(model)
        mutator.memory = memory
        if drop_rate is not None:
            mutator.drop_rate = drop_rate
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
        )
        self.num_candidates = num_candidates

    def train_step(self, batch: Any) -> dict[str, float]:
        """A new dropout draw, then one weight step."""
        self.mutator.reset()
        return self.weight_step(*batch)

    def train(self, validate: bool = True) -> None:
        """Train the supernet, then rank ``num_candidates`` architectures (see the class)."""
        super().train(validate)
        if self.num_candidates:
            ranked = rank_architectures(self, self.mutator.sample_random, self.num_candidates)
            self.mutator.best_architecture = ranked[0].architecture
            _logger.info("Best of %d architectures: loss %.4f", len(ranked), ranked[0].loss)
