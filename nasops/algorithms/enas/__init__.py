"""ENAS: an LSTM controller samples sub-networks of a weight-sharing supernet (REINFORCE)."""

from nasops.algorithms.enas.mutator import EnasMutator
from nasops.algorithms.enas.trainer import EnasTrainer

__all__ = ["EnasMutator", "EnasTrainer"]
