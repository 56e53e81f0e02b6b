"""DARTS: differentiable architecture search over softmax-weighted candidates."""

from nasops.algorithms.darts.mutator import DartsMutator
from nasops.algorithms.darts.trainer import DartsTrainer

__all__ = ["DartsMutator", "DartsTrainer"]
