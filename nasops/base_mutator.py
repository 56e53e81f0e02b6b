"""``BaseMutator``: owns the parsed search space of a model and receives the mutables' calls."""

from collections.abc import Iterator
from typing import Any

import torch
from torch import nn

from nasops._parsing import parse_search_space
from nasops._tree import StructuredMutableTreeNode
from nasops.mutables import InputChoice, LayerChoice, MutableScope


class BaseMutator(nn.Module):
    """The interface between a model's mutables and a search algorithm.

    Building a mutator parses ``model``: every mutable is attached to this mutator (once: a
    model can be parsed by one mutator only). The mutator is an ``nn.Module`` so algorithms can
    keep architecture parameters in it; the model is *not* a submodule, so
    ``mutator.parameters()`` holds architecture parameters only.

    Subclasses implement ``on_forward_layer_choice``, ``on_forward_input_choice`` and ``export``;
    :class:`nasops.mutator.Mutator` implements them on top of a decision dict.

    Args:
        model: the network containing the mutables.
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.__dict__["model"] = model
        self._structured_mutables = parse_search_space(model, self)

    @property
    def mutables(self) -> StructuredMutableTreeNode:
        """The search-space tree; iterating it yields each key's first mutable in pre-order."""
        return self._structured_mutables

    @property
    def undedup_mutables(self) -> Iterator[Any]:
        """Every mutable in pre-order, repeated keys included."""
        return self._structured_mutables.traverse(deduplicate=False)

    def forward(self, *inputs: Any) -> Any:
        raise RuntimeError("Forward is undefined for mutators.")

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "model":
            raise AttributeError(
                "Attribute `model` can be set at most once, and you shouldn't use "
                "`self.model = model` to include you network, as it will include all parameters "
                "in model into the mutator."
            )
        super().__setattr__(name, value)

    def enter_mutable_scope(self, mutable_scope: MutableScope) -> None:
        """Called before a parsed :class:`MutableScope` runs its forward (no-op here)."""

    def exit_mutable_scope(self, mutable_scope: MutableScope) -> None:
        """Called after a parsed :class:`MutableScope` ran its forward, even on error (no-op)."""

    def on_forward_layer_choice(
        self, mutable: LayerChoice, *args: Any, **kwargs: Any
    ) -> tuple[Any, Any]:
        """Run ``mutable`` on ``args``/``kwargs``; return ``(output, mask)``."""
        raise NotImplementedError

    def on_forward_input_choice(
        self, mutable: InputChoice, tensor_list: list[torch.Tensor]
    ) -> tuple[Any, Any]:
        """Select from ``tensor_list`` for ``mutable``; return ``(output, mask)``."""
        raise NotImplementedError

    def export(self) -> dict[str, Any]:
        """The decisions that fix the architecture, by key (for retraining from scratch)."""
        raise NotImplementedError
