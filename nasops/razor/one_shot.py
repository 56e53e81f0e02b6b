"""One-shot (single-path) module mutables: SPOS-style uniform or weighted path sampling."""

import math
import random
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any, Generic

import torch

from nasops.razor._reduce import sum_all
from nasops.razor.base import Choice, Chosen, DumpChosen
from nasops.razor.candidates import build_candidates
from nasops.razor.errors import ValueAssertionError
from nasops.razor.mutable_module import MutableModule


class OneShotMutableModule(MutableModule[Choice, Chosen], Generic[Choice, Chosen]):
    """A module mutable that runs one path per forward.

    Generic like mmrazor's documented base, so ``OneShotMutableModule[str, str]`` subclasses.

    ``forward`` runs the fixed candidate once fixed, every candidate summed while
    ``current_choice`` is None, and only the chosen candidate otherwise.
    """

    def forward(self, x: Any) -> torch.Tensor:
        if self.is_fixed:
            return self.forward_fixed(x)
        if self._current_choice is None:
            return self.forward_all(x)
        return self.forward_choice(x, choice=self._current_choice)

    @abstractmethod
    def sample_choice(self) -> str:
        """Draw a choice (a plain ``str``) from the candidates."""

    @abstractmethod
    def forward_choice(self, x: Any, choice: str) -> torch.Tensor:
        """Forward through the candidate named ``choice`` only."""


class OneShotMutableOP(OneShotMutableModule[str, str]):
    """Choose one op among named candidates; sampling is uniform.

    Args:
        candidates: an ``nn.ModuleDict``, a dict of modules, or a dict of config dicts.
        module_kwargs: merged into each candidate config (e.g. shared channel counts).
        alias: see ``BaseMutable``.
        init_cfg: see ``BaseMutable``.

    Example:
        >>> op = OneShotMutableOP({"conv3": nn.Conv2d(8, 8, 3, padding=1),
        ...                        "conv5": nn.Conv2d(8, 8, 5, padding=2)})
        >>> op.current_choice = "conv5"   # the next forward runs conv5 only
    """

    def __init__(
        self,
        candidates: Mapping[str, Any],
        module_kwargs: Mapping[str, Any] | None = None,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(module_kwargs=module_kwargs, alias=alias, init_cfg=init_cfg)
        self._candidates = build_candidates(candidates, self.module_kwargs)
        self._chosen: str | None = None

    @property
    def choices(self) -> list[str]:
        return list(self._candidates.keys())

    def _validate_choice(self, choice: str) -> None:
        if not isinstance(choice, str) or choice not in self._candidates:
            raise ValueAssertionError(
                f"{type(self).__name__}: choice {choice!r} is not a candidate; accepted names "
                f"are {self.choices}"
            )

    def forward_choice(self, x: Any, choice: str) -> torch.Tensor:
        self._validate_choice(choice)
        return self._candidates[choice](x)

    def forward_all(self, x: Any) -> torch.Tensor:
        return sum_all([lambda op=op: op(x) for op in self._candidates.values()])

    def forward_fixed(self, x: Any) -> torch.Tensor:
        return self._candidates[self._chosen](x)

    def fix_chosen(self, chosen: str) -> None:
        """Keep only ``chosen`` (its parameters stay; the others leave the state_dict)."""
        self._check_not_fixed("fix_chosen")
        self._validate_choice(chosen)
        for name in self.choices:
            if name != chosen:
                self._candidates.pop(name)
        self._chosen = chosen
        self._current_choice = chosen
        self.is_fixed = True

    def dump_chosen(self) -> DumpChosen:
        return DumpChosen(chosen=self._require_choice(), meta={"all_choices": self.choices})

    def sample_choice(self) -> str:
        return random.choice(self.choices)


class OneShotProbMutableOP(OneShotMutableOP):
    """``OneShotMutableOP`` whose sampling follows fixed per-candidate probabilities.

    Args:
        candidates: see ``OneShotMutableOP``.
        choice_probs: one probability per candidate, in candidate order, non-negative, summing
            to 1; kept as that list.
    """

    def __init__(
        self,
        candidates: Mapping[str, Any],
        choice_probs: Sequence[float] | None = None,
        module_kwargs: Mapping[str, Any] | None = None,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(candidates, module_kwargs=module_kwargs, alias=alias, init_cfg=init_cfg)
        if choice_probs is None or len(choice_probs) != len(self.choices):
            raise ValueAssertionError(
                f"choice_probs must give one probability per candidate ({len(self.choices)}), "
                f"got {choice_probs!r}"
            )
        probs = [float(p) for p in choice_probs]
        if any(p < 0 for p in probs) or not math.isclose(sum(probs), 1.0, abs_tol=1e-6):
            raise ValueAssertionError(
                f"choice_probs must be non-negative and sum to 1, got {choice_probs!r} "
                f"(sum {sum(probs)})"
            )
        self.choice_probs = probs

    def sample_choice(self) -> str:
        """A candidate drawn with ``choice_probs`` (the kept one once fixed)."""
        if self.is_fixed:
            return self._chosen
        return random.choices(self.choices, weights=self.choice_probs)[0]
