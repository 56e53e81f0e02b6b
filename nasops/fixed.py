"""Fixing a searched architecture into a model for retraining (NNI v1's ``fixed``)."""

import json
import logging
from typing import Any

from torch import nn

from nasops._arch_format import from_human_readable
from nasops.mutables import InputChoice, LayerChoice, MutableScope
from nasops.mutator import Mutator

_logger = logging.getLogger("nasops.fixed")


class FixedArchitecture(Mutator):
    """A mutator that always returns one architecture.

    Args:
        model: the network containing the mutables.
        fixed_arc: key → value as ``export()`` writes it (a name, an index, a list of them, or
            a multi-hot list of bools or float weights); tensors and arrays are accepted.
            Every LayerChoice and InputChoice key must appear, and no other key.
        strict: accepted for NNI compatibility; unused (as in NNI).
        verbose: log each replacement made by :meth:`replace_layer_choice`.
    """

    def __init__(
        self, model: nn.Module, fixed_arc: dict[str, Any], strict: bool = True, verbose: bool = True
    ) -> None:
        super().__init__(model)
        self.verbose = verbose
        choice_keys = {m.key for m in self.mutables if not isinstance(m, MutableScope)}
        given_keys = set(fixed_arc)
        if given_keys - choice_keys:
            raise RuntimeError(
                f"Unexpected keys found in fixed architecture: {given_keys - choice_keys}."
            )
        if choice_keys - given_keys:
            raise RuntimeError(f"Missing keys in fixed architecture: {choice_keys - given_keys}.")
        self._fixed_arc = {
            m.key: from_human_readable(m, fixed_arc[m.key])
            for m in self.mutables
            if isinstance(m, (LayerChoice, InputChoice))
        }

    def sample_search(self) -> dict[str, list]:
        """The fixed architecture, as multi-hot lists."""
        return self._fixed_arc

    def sample_final(self) -> dict[str, list]:
        """The fixed architecture, as multi-hot lists."""
        return self._fixed_arc

    def replace_layer_choice(self, module: nn.Module | None = None, prefix: str = "") -> None:
        """Make the fixed model plain where possible.

        A LayerChoice with exactly one candidate selected at weight 1 (and no ``return_mask``)
        is replaced in its parent by that candidate. Otherwise it stays, and every candidate
        with a bool/int 0 entry is set to ``None`` to drop its parameters (zero float weights
        are kept: they are weights, not exclusions).
        """
        if module is None:
            module = self.model
        for name, child in module.named_children():
            path = f"{prefix}.{name}" if prefix else name
            if not isinstance(child, LayerChoice):
                self.replace_layer_choice(child, path)
                continue
            chosen = self._fixed_arc[child.key]
            if sum(chosen) == 1 and max(chosen) == 1 and not child.return_mask:
                index = chosen.index(1)
                if self.verbose:
                    _logger.info("Replacing %s with candidate number %d.", path, index)
                setattr(module, name, child[index])
                continue
            if child.return_mask and self.verbose:
                _logger.info(
                    "`return_mask` flag of %s is true. As it relies on the behavior of "
                    "LayerChoice, LayerChoice will not be replaced.",
                    path,
                )
            for flag, candidate in zip(chosen, child.names, strict=True):
                if flag == 0 and not isinstance(flag, float):
                    setattr(child, candidate, None)


def apply_fixed_architecture(
    model: nn.Module, fixed_arc: str | dict[str, Any], verbose: bool = True
) -> FixedArchitecture:
    """Fix ``model`` to the architecture ``fixed_arc`` (a JSON file path or a dict).

    Call it on a freshly built model *before* ``load_state_dict``: replaced LayerChoices and
    pruned candidates change the parameter names. Returns the :class:`FixedArchitecture`
    mutator (the mutables keep a reference to it, so you need not).
    """
    if isinstance(fixed_arc, str):
        with open(fixed_arc) as f:
            fixed_arc = json.load(f)
    architecture = FixedArchitecture(model, fixed_arc, verbose=verbose)
    architecture.reset()
    architecture.replace_layer_choice()
    return architecture
