"""Ready-made search spaces (NNI v1's ``nni.nas.pytorch.search_space_zoo``)."""

from nasops.search_space_zoo.darts_cell import DartsCell
from nasops.search_space_zoo.enas_cell import ENASMacroGeneralModel, ENASMacroLayer, ENASMicroLayer

__all__ = ["DartsCell", "ENASMacroGeneralModel", "ENASMacroLayer", "ENASMicroLayer"]
