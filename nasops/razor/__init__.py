"""mmrazor 1.0-compatible NAS API: mutables, ``NasMutator`` and subnet export/load.

Module mutables reduce their candidates through the fused ``nasops.ops`` reductions.
"""

from nasops.razor.base import BaseMutable, DumpChosen
from nasops.razor.candidates import build_candidates
from nasops.razor.channel import (
    BaseMutableChannel,
    MutableChannelContainer,
    OneShotMutableChannel,
    SequentialMutableChannel,
    SimpleMutableChannel,
    SquentialMutableChannel,
)
from nasops.razor.derived import DerivedMethodMixin, DerivedMutable, make_divisible
from nasops.razor.diff import (
    DiffChoiceRoute,
    DiffMutableModule,
    DiffMutableOP,
    GumbelChoiceRoute,
    OneHotMutableOP,
)
from nasops.razor.mutable_module import MutableModule
from nasops.razor.mutable_value import MutableValue, OneShotMutableValue
from nasops.razor.mutator import NasMutator, build_search_groups
from nasops.razor.one_shot import OneShotMutableModule, OneShotMutableOP, OneShotProbMutableOP
from nasops.razor.subnet import (
    convert_fix_subnet,
    export_fix_subnet,
    load_fix_subnet,
    save_fix_subnet,
)

__all__ = [
    "BaseMutable",
    "BaseMutableChannel",
    "DerivedMethodMixin",
    "DerivedMutable",
    "DiffChoiceRoute",
    "DiffMutableModule",
    "DiffMutableOP",
    "DumpChosen",
    "GumbelChoiceRoute",
    "MutableChannelContainer",
    "MutableModule",
    "MutableValue",
    "NasMutator",
    "OneHotMutableOP",
    "OneShotMutableChannel",
    "OneShotMutableModule",
    "OneShotMutableOP",
    "OneShotMutableValue",
    "OneShotProbMutableOP",
    "SequentialMutableChannel",
    "SimpleMutableChannel",
    "SquentialMutableChannel",
    "build_candidates",
    "build_search_groups",
    "convert_fix_subnet",
    "export_fix_subnet",
    "load_fix_subnet",
    "make_divisible",
    "save_fix_subnet",
]
