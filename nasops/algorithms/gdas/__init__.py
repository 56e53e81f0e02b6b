"""GDAS: differentiable search that runs one Gumbel-sampled candidate per choice and step."""

from nasops.algorithms.gdas.mutator import GdasMutator
from nasops.algorithms.gdas.trainer import GdasTrainer

__all__ = ["GdasMutator", "GdasTrainer"]
