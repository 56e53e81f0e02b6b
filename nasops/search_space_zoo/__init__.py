"""Ready-made search spaces (NNI v1's ``nni.nas.pytorch.search_space_zoo``)."""

from nasops.search_space_zoo.darts_cell import DartsCell

__all__ = ["DartsCell"]
