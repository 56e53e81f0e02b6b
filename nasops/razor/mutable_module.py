"""``MutableModule``: the base of the mutables that choose among candidate modules."""

from abc import abstractmethod
from collections.abc import Mapping
from typing import Any, Generic

import torch

from nasops.razor.base import BaseMutable, Choice, Chosen
from nasops.razor.errors import RuntimeAssertionError, ValueAssertionError


class MutableModule(BaseMutable[Choice, Chosen], Generic[Choice, Chosen]):
    """A mutable whose choices are named candidate modules.

    Args:
        module_kwargs: merged into every candidate config dict before it is built.
        alias: see ``BaseMutable``.
        init_cfg: see ``BaseMutable``.
    """

    mutable_prefix = "module"

    def __init__(
        self,
        module_kwargs: Mapping[str, Any] | None = None,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(alias=alias, init_cfg=init_cfg)
        self.module_kwargs = dict(module_kwargs) if module_kwargs else None
        self._current_choice: Choice | None = None

    @property
    def current_choice(self) -> Choice | None:
        """The choice the next forward follows; None lets the subclass run its default."""
        return self._current_choice

    @current_choice.setter
    def current_choice(self, choice: Choice | None) -> None:
        if choice is not None:
            self._validate_choice(choice)
        self._current_choice = choice

    def _validate_choice(self, choice: Choice) -> None:
        """Raise ``ValueError`` unless ``choice`` is one of ``choices``.

        Mutables whose choice takes another form (a list of names) override this.
        """
        if choice not in self.choices:
            raise ValueAssertionError(
                f"{type(self).__name__}: choice {choice!r} is not a candidate; accepted are "
                f"{self.choices}"
            )

    @property
    @abstractmethod
    def choices(self) -> list[str]:
        """The candidate names, in insertion order (only the kept ones once fixed)."""

    @property
    def num_choices(self) -> int:
        return len(self.choices)

    @abstractmethod
    def forward_fixed(self, x: Any) -> torch.Tensor:
        """Forward once fixed: the kept candidates only."""

    @abstractmethod
    def forward_all(self, x: Any) -> torch.Tensor:
        """Forward through every candidate, summed (also what FLOP counting runs)."""

    def _check_names(self, argument: str, names: list[str]) -> None:
        unknown = [n for n in names if n not in self.choices]
        if unknown or not names:
            raise ValueAssertionError(
                f"{type(self).__name__}: {argument}={names!r} names no candidate or an unknown "
                f"one ({unknown!r}); accepted names are {self.choices}"
            )

    def _require_choice(self) -> Choice:
        if self._current_choice is None:
            raise RuntimeAssertionError(
                f"{type(self).__name__} has no current_choice to dump; set one (e.g. with "
                "NasMutator.set_choices) or fix the mutable first"
            )
        return self._current_choice
