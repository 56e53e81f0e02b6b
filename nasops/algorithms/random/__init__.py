"""Random search: a fresh uniformly random architecture at every ``reset()``, and its trainer."""

from nasops.algorithms.random.mutator import RandomMutator
from nasops.algorithms.random.trainer import RandomTrainer

__all__ = ["RandomMutator", "RandomTrainer"]
