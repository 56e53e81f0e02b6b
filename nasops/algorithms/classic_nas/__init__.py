"""Classic mode: one architecture per trial process, chosen by a tuner (NNI's ``classic_nas``)."""

from nasops.algorithms.classic_nas.mutator import get_and_apply_next_architecture

__all__ = ["get_and_apply_next_architecture"]
