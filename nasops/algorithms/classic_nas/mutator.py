"""``ClassicMutator``: apply the architecture a tuner chose for this trial, as NNI v1 does.

The trial script calls :func:`get_and_apply_next_architecture` once on its model. The mutator
writes the model's search space (``nasops ss-gen`` / ``nnictl ss_gen`` run the script with
``NNI_GEN_SEARCH_SPACE`` set and the process exits after the dump), or reads this trial's
parameters through :func:`nasops.trial.get_next_parameter` (``nasops tune``, an nnictl
experiment, or, standalone, the first candidate(s) of every choice) and fixes the model to them.

Formats (seed 001): the search space is ``{key: {"_type": "layer_choice", "_value": [names]}}``
and ``{key: {"_type": "input_choice", "_value": {"candidates": [...], "n_chosen": n}}}``; the
parameters are ``{key: {"_value": name, "_idx": i}}`` and ``{key: {"_value": [...], "_idx":
[...]}}``.
"""

import json
import logging
import os
import sys
from typing import Any

import torch
from torch import nn

from nasops import trial
from nasops.mutables import InputChoice, LayerChoice, MutableScope
from nasops.mutator import Mutator

NNI_GEN_SEARCH_SPACE = "NNI_GEN_SEARCH_SPACE"
LAYER_CHOICE = "layer_choice"
INPUT_CHOICE = "input_choice"

logger = logging.getLogger(__name__)


class InvalidChoiceError(ValueError, AssertionError):
    """The tuner's parameters do not fit the search space (NNI asserts, so both types catch it)."""


def get_and_apply_next_architecture(model: nn.Module) -> None:
    """Fix ``model`` to this trial's architecture (see :class:`ClassicMutator`); returns None."""
    ClassicMutator(model)


class ClassicMutator(Mutator):
    """Applies the tuner's parameters for this trial to ``model``, once, at construction.

    Raises:
        TypeError: a mutable other than LayerChoice, InputChoice and MutableScope.
        RuntimeError: a tuner platform gave no parameters (``NNI_PLATFORM=unittest`` falls back
            to the standalone choice instead, with a warning).
        InvalidChoiceError: the parameters do not match the search space (NNI's messages).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self._chosen_arch: dict[str, Any] = {}
        self._search_space = self._generate_search_space()
        if NNI_GEN_SEARCH_SPACE in os.environ:
            self._dump_search_space(os.environ[NNI_GEN_SEARCH_SPACE])
            sys.exit(0)
        if trial.current_platform() == "standalone":
            logger.warning("This is in standalone mode, the chosen are the first one(s).")
            self._chosen_arch = self._standalone_generate_chosen()
        else:
            self._chosen_arch = trial.get_next_parameter()
            if self._chosen_arch is None:
                if trial.current_platform() != "unittest":
                    raise RuntimeError("Chosen architecture is None. This may be a platform error.")
                logger.warning(
                    "`NNI_PLATFORM` is set but `param` is None. Falling back to standalone mode."
                )
                self._chosen_arch = self._standalone_generate_chosen()
        self.reset()

    def sample_search(self) -> dict[str, torch.Tensor]:
        """The chosen architecture (the same every time: see :meth:`sample_final`)."""
        return self.sample_final()

    def sample_final(self) -> dict[str, torch.Tensor]:
        """The tuner's choices as bool masks, key → one-hot (LayerChoice) or multi-hot tensor."""
        if not isinstance(self._chosen_arch, dict) or set(self._chosen_arch) != set(
            self._search_space
        ):
            found = self._chosen_arch.keys() if isinstance(self._chosen_arch, dict) else None
            raise InvalidChoiceError(
                f"Unmatched keys, expected keys '{self._search_space.keys()}' from search space, "
                f"found '{found}'."
            )
        result = {}
        for mutable in self.mutables:
            if isinstance(mutable, MutableScope):
                logger.info("Mutable scope '%s' is skipped during parsing choices.", mutable.key)
                continue
            data = self._chosen_arch[mutable.key]
            if not isinstance(data, dict) or "_value" not in data or "_idx" not in data:
                raise InvalidChoiceError(f"'{data}' is not a valid choice.")
            space = self._search_space[mutable.key]["_value"]
            if isinstance(mutable, LayerChoice):
                result[mutable.key] = _one_hot(len(mutable), data, space)
            else:
                result[mutable.key] = _multi_hot(mutable.n_candidates, data, space["candidates"])
        return result

    def _standalone_generate_chosen(self) -> dict[str, Any]:
        """The first candidate of every LayerChoice, the first ``n_chosen`` inputs (all when
        ``n_chosen`` is None) of every InputChoice."""
        chosen = {}
        for key, entry in self._search_space.items():
            if entry["_type"] == LAYER_CHOICE:
                chosen[key] = {"_value": entry["_value"][0], "_idx": 0}
            else:
                candidates = entry["_value"]["candidates"]
                n_chosen = entry["_value"]["n_chosen"]
                n_chosen = len(candidates) if n_chosen is None else n_chosen
                chosen[key] = {"_value": candidates[:n_chosen], "_idx": list(range(n_chosen))}
        return chosen

    def _generate_search_space(self) -> dict[str, Any]:
        """The model's search space in NNI's ``ss_gen`` format (flat: scopes are skipped)."""
        search_space: dict[str, Any] = {}
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                search_space[mutable.key] = {"_type": LAYER_CHOICE, "_value": mutable.names}
            elif isinstance(mutable, InputChoice):
                search_space[mutable.key] = {
                    "_type": INPUT_CHOICE,
                    "_value": {"candidates": mutable.choose_from, "n_chosen": mutable.n_chosen},
                }
            elif isinstance(mutable, MutableScope):
                logger.info(
                    "Mutable scope '%s' is skipped during generating search space.", mutable.key
                )
            else:
                raise TypeError(f"Unsupported mutable type: '{type(mutable)}'.")
        return search_space

    def _dump_search_space(self, file_path: str) -> None:
        with open(file_path, "w", encoding="utf-8") as file:
            json.dump(self._search_space, file, sort_keys=True, indent=2)


def _one_hot(size: int, data: dict[str, Any], names: list[str]) -> torch.Tensor:
    """A LayerChoice parameter ``{"_value": name, "_idx": i}`` → one-hot bool mask."""
    index, value = data["_idx"], data["_value"]
    if not _valid_index(index, size) or names[index] != value:
        raise InvalidChoiceError(f"Index '{index}' in search space '{names}' is not '{value}'")
    mask = [False] * size
    mask[index] = True
    return torch.tensor(mask, dtype=torch.bool)


def _multi_hot(size: int, data: dict[str, Any], candidates: list[str]) -> torch.Tensor:
    """An InputChoice parameter ``{"_value": [names], "_idx": [i, ...]}`` → multi-hot bool mask."""
    indices, values = data["_idx"], data["_value"]
    if not isinstance(indices, list) or not isinstance(values, list) or len(indices) != len(values):
        raise InvalidChoiceError(f"'{data}' is not a valid choice.")
    mask = [False] * size
    for index, value in zip(indices, values, strict=True):
        if not _valid_index(index, size) or candidates[index] != value:
            raise InvalidChoiceError(
                f"Index '{index}' in search space '{candidates}' is not '{value}'"
            )
        if mask[index]:
            raise InvalidChoiceError(
                f"'{index}' is selected twice in '{indices}', which is not allowed."
            )
        mask[index] = True
    return torch.tensor(mask, dtype=torch.bool)


def _valid_index(index: Any, size: int) -> bool:
    return isinstance(index, int) and not isinstance(index, bool) and 0 <= index < size
