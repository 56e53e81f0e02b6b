"""P-DARTS: progressive DARTS, growing the network while dropping weak candidates."""

from nasops.algorithms.pdarts.trainer import PdartsTrainer

__all__ = ["PdartsTrainer"]
