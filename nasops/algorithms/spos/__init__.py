"""SPOS (single-path one-shot): supernet training on random paths, then evolutionary search."""

from nasops.algorithms.spos.evolution import SPOSEvolution
from nasops.algorithms.spos.mutator import SPOSSupernetTrainingMutator
from nasops.algorithms.spos.search import SPOSSearch
from nasops.algorithms.spos.trainer import SPOSSupernetTrainer

__all__ = ["SPOSEvolution", "SPOSSearch", "SPOSSupernetTrainer", "SPOSSupernetTrainingMutator"]
