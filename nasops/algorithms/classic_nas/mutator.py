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
from nasops.algorithms.classic_nas.space import (
    first_choices,
    generate_search_space,
    parameters_to_masks,
)
from nasops.mutator import Mutator

NNI_GEN_SEARCH_SPACE = "NNI_GEN_SEARCH_SPACE"

logger = logging.getLogger(__name__)


def get_and_apply_next_architecture(model: nn.Module) -> None:
    """Fix ``model`` to this trial's architecture (see :class:`ClassicMutator`); returns None."""
    ClassicMutator(model)


class ClassicMutator(Mutator):
    """Applies the tuner's parameters for this trial to ``model``, once, at construction.

    Raises:
        TypeError: a mutable other than LayerChoice, InputChoice and MutableScope.
        RuntimeError: a tuner platform gave no parameters (``NNI_PLATFORM=unittest`` falls back
            to the standalone choice instead, with a warning).
        ~nasops.algorithms.classic_nas.space.InvalidChoiceError: the parameters do not match
            the search space (NNI's messages).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self._chosen_arch: dict[str, Any] = {}
        self._search_space = generate_search_space(self.mutables)
        if NNI_GEN_SEARCH_SPACE in os.environ:
            self._dump_search_space(os.environ[NNI_GEN_SEARCH_SPACE])
            sys.exit(0)
        if trial.current_platform() == "standalone":
            logger.warning("This is in standalone mode, the chosen are the first one(s).")
            self._chosen_arch = first_choices(self._search_space)
        else:
            self._chosen_arch = trial.get_next_parameter()
            if self._chosen_arch is None:
                if trial.current_platform() != "unittest":
                    raise RuntimeError("Chosen architecture is None. This may be a platform error.")
                logger.warning(
                    "`NNI_PLATFORM` is set but `param` is None. Falling back to standalone mode."
                )
                self._chosen_arch = first_choices(self._search_space)
        self.reset()

    def sample_search(self) -> dict[str, torch.Tensor]:
        """The chosen architecture (the same every time: see :meth:`sample_final`)."""
        return self.sample_final()

    def sample_final(self) -> dict[str, torch.Tensor]:
        """The tuner's choices as bool masks, key → one-hot (LayerChoice) or multi-hot tensor."""
        return parameters_to_masks(self._chosen_arch, self.mutables, self._search_space)

    def _dump_search_space(self, file_path: str) -> None:
        with open(file_path, "w", encoding="utf-8") as file:
            json.dump(self._search_space, file, sort_keys=True, indent=2)
