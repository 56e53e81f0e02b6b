"""Seed 004's ShuffleNetV2 search space: the candidate ops and the searchable backbone."""

from nasops.razor.architectures.shufflenet import SearchableShuffleNetV2
from nasops.razor.architectures.shufflenet_ops import BaseOP, ShuffleBlock, ShuffleXception

__all__ = [
    "BaseOP",
    "SearchableShuffleNetV2",
    "ShuffleBlock",
    "ShuffleXception",
]
