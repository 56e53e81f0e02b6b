"""Ranking sampled architectures by their validation loss on a trained supernet's shared weights.

How one-shot searches without a learned architecture (Bender et al. 2018; random search with
weight sharing) pick the architecture to export.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from nasops.algorithms.base import OneShotTrainer
from nasops.distributed import architecture_rng, broadcast_buffers


@dataclass
class RankedArchitecture:
    """One evaluated architecture: key → mask, and its mean loss on the validation data."""

    loss: float
    architecture: dict[str, Any]


def rank_architectures(
    trainer: OneShotTrainer, sample: Callable[[], dict[str, Any]], num_candidates: int
) -> list[RankedArchitecture]:
    """Draw ``num_candidates`` architectures with ``sample()`` and score each on
    ``trainer.valid_loader`` (model and mutator in eval mode, no gradients); lowest loss first.

    Every candidate sees the same batches when the loader does not shuffle (the default for
    ``valid_loader`` without ``split_train``). The loss is ``trainer.loss`` averaged over the
    samples; all the scores are read from the device once, at the end.
    """
    if not isinstance(num_candidates, int) or num_candidates < 1:
        raise ValueError(f"num_candidates must be a positive int, got {num_candidates!r}")
    trainer.model.eval()
    trainer.mutator.eval()
    broadcast_buffers(trainer.model)  # every rank scores on rank 0's BatchNorm statistics
    architectures, losses = [], []
    with torch.no_grad():
        for _ in range(num_candidates):
            with architecture_rng(trainer.mutator):
                architecture = sample()
            architectures.append(architecture)
            losses.append(validation_loss(trainer, architecture))
    scores = torch.stack(losses).tolist()
    ranked = [RankedArchitecture(s, a) for s, a in zip(scores, architectures, strict=True)]
    return sorted(ranked, key=lambda r: r.loss)


def validation_loss(trainer: OneShotTrainer, architecture: dict[str, Any]) -> torch.Tensor:
    """The mean of ``trainer.loss`` over ``trainer.valid_loader`` with ``architecture`` (key →
    mask) fixed, as a 0-d tensor on the trainer's device (call in eval mode, without
    gradients)."""
    # Setting the decision cache without reset() is NNI's way to pin an architecture; the
    # mutator prepares each mask once, on its first forward.
    trainer.mutator._cache = architecture
    total = torch.zeros((), device=trainer.device)
    count = 0
    for X, y in trainer.valid_loader:
        X, y = X.to(trainer.device), y.to(trainer.device)
        total += trainer.loss(trainer.model(X), y).detach() * len(y)
        count += len(y)
    if count == 0:
        raise ValueError("validation_loss: trainer.valid_loader yielded no samples")
    return total / count
