"""One-shot architecture search (Bender et al. 2018): train every path, rank sub-networks."""

from nasops.algorithms.oneshot.mutator import OneshotMutator
from nasops.algorithms.oneshot.trainer import OneshotTrainer

__all__ = ["OneshotMutator", "OneshotTrainer"]
