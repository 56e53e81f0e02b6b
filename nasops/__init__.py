"""nasops: one-shot neural architecture search on fused mask-weighted reduction ops."""

from nasops import ops
from nasops._extension import extension_info, has_extension
from nasops.base_mutator import BaseMutator
from nasops.base_trainer import BaseTrainer
from nasops.fixed import FixedArchitecture, apply_fixed_architecture
from nasops.mutables import InputChoice, LayerChoice, Mutable, MutableScope
from nasops.mutator import Mutator
from nasops.trainer import Trainer
from nasops.trial import get_next_parameter, report_final_result, report_intermediate_result

__version__ = "0.1.0"

__all__ = [
    "BaseMutator",
    "BaseTrainer",
    "FixedArchitecture",
    "InputChoice",
    "LayerChoice",
    "Mutable",
    "MutableScope",
    "Mutator",
    "Trainer",
    "__version__",
    "apply_fixed_architecture",
    "extension_info",
    "get_next_parameter",
    "has_extension",
    "ops",
    "report_final_result",
    "report_intermediate_result",
]
