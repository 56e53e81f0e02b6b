"""Classic mode's two formats (seed 001) and the conversions between them and a model's mutables.

The search space (what ``nasops ss-gen`` writes, what a tuner reads) is
``{key: {"_type": "layer_choice", "_value": [names]}}`` and
``{key: {"_type": "input_choice", "_value": {"candidates": [...], "n_chosen": n}}}``; a tuner's
parameters for one trial are ``{key: {"_value": name, "_idx": i}}`` and
``{key: {"_value": [...], "_idx": [...]}}``. ``ClassicMutator`` and SPOS's evolution both speak
them through this module.
"""

import logging
from collections.abc import Iterable
from typing import Any

import torch

from nasops.mutables import InputChoice, LayerChoice, Mutable, MutableScope

LAYER_CHOICE = "layer_choice"
INPUT_CHOICE = "input_choice"

# The messages are the mutator's (NNI logs them from its ClassicMutator).
logger = logging.getLogger("nasops.algorithms.classic_nas.mutator")


class InvalidChoiceError(ValueError, AssertionError):
    """The tuner's parameters do not fit the search space (NNI asserts, so both types catch it)."""


def generate_search_space(mutables: Iterable[Mutable]) -> dict[str, Any]:
    """The search space of ``mutables`` (a mutator's, deduplicated) in NNI's ``ss_gen`` format;
    flat: scopes are skipped, as NNI does (with its info log).

    Raises:
        TypeError: a mutable other than LayerChoice, InputChoice and MutableScope.
    """
    search_space: dict[str, Any] = {}
    for mutable in mutables:
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


def first_choices(search_space: dict[str, Any]) -> dict[str, Any]:
    """Standalone mode's parameters: the first candidate of every LayerChoice, the first
    ``n_chosen`` inputs (all when ``n_chosen`` is None) of every InputChoice."""
    chosen = {}
    for key, entry in search_space.items():
        if entry["_type"] == LAYER_CHOICE:
            chosen[key] = {"_value": entry["_value"][0], "_idx": 0}
        else:
            candidates = entry["_value"]["candidates"]
            n_chosen = entry["_value"]["n_chosen"]
            n_chosen = len(candidates) if n_chosen is None else n_chosen
            chosen[key] = {"_value": candidates[:n_chosen], "_idx": list(range(n_chosen))}
    return chosen


def parameters_to_masks(
    chosen: Any, mutables: Iterable[Mutable], search_space: dict[str, Any]
) -> dict[str, torch.Tensor]:
    """A tuner's parameters as bool masks: key → one-hot (LayerChoice) or multi-hot tensor.

    Raises:
        InvalidChoiceError: the parameters do not match the search space (NNI's messages).
    """
    if not isinstance(chosen, dict) or set(chosen) != set(search_space):
        found = chosen.keys() if isinstance(chosen, dict) else None
        raise InvalidChoiceError(
            f"Unmatched keys, expected keys '{search_space.keys()}' from search space, "
            f"found '{found}'."
        )
    result = {}
    for mutable in mutables:
        if isinstance(mutable, MutableScope):
            logger.info("Mutable scope '%s' is skipped during parsing choices.", mutable.key)
            continue
        data = chosen[mutable.key]
        if not isinstance(data, dict) or "_value" not in data or "_idx" not in data:
            raise InvalidChoiceError(f"'{data}' is not a valid choice.")
        space = search_space[mutable.key]["_value"]
        if isinstance(mutable, LayerChoice):
            result[mutable.key] = _one_hot(len(mutable), data, space)
        else:
            result[mutable.key] = _multi_hot(mutable.n_candidates, data, space["candidates"])
    return result


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
