"""ProxylessNAS: binarized paths, one sampled candidate per LayerChoice, gate-gradient search."""

from nasops.algorithms.proxylessnas.mutator import ProxylessNasMutator
from nasops.algorithms.proxylessnas.trainer import ProxylessNasTrainer

__all__ = ["ProxylessNasMutator", "ProxylessNasTrainer"]
