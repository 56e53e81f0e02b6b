"""Random search: a fresh uniformly random architecture at every ``reset()``."""

from nasops.algorithms.random.mutator import RandomMutator

__all__ = ["RandomMutator"]
