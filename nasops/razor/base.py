"""The mutable base class shared by every searchable thing, and the ``DumpChosen`` record.

A mutable holds a search dimension (which op, which value, how many channels). While unfixed it
follows ``current_choice``; ``fix_chosen`` makes the decision permanent and irreversible.
"""

from abc import ABC, abstractmethod
from typing import Any, Generic, NamedTuple, TypeVar

from torch import nn

from nasops.razor.errors import AttributeAssertionError, TypeAssertionError

Choice = TypeVar("Choice")
Chosen = TypeVar("Chosen")
# The names mmrazor's mutable guide imports these under.
CHOICE_TYPE = Choice
CHOSEN_TYPE = Chosen


class DumpChosen(NamedTuple):
    """What a mutable exports: the chosen value and optional metadata (e.g. all choices)."""

    chosen: Any
    meta: dict[str, Any] | None = None


FixMutable = dict[str, Any]
"""A subnet as saved and loaded: ``{alias or module name: {'chosen': value}}``."""


class BaseMutable(nn.Module, ABC, Generic[Choice, Chosen]):
    """Abstract searchable module.

    ``Choice`` is the type of ``current_choice`` (what the search varies); ``Chosen`` is what
    ``fix_chosen`` takes and ``export_chosen`` returns (for most mutables the same type).

    Args:
        alias: mutables that share an alias form one search group and are exported under it.
        init_cfg: kept for mmrazor signature compatibility; nasops does not read it.
    """

    def __init__(self, alias: str | None = None, init_cfg: dict | None = None) -> None:
        super().__init__()
        if alias is not None and not isinstance(alias, str):
            raise TypeError(f"alias must be a str or None, got {alias!r}")
        self.alias = alias
        self.init_cfg = init_cfg
        self._is_fixed = False

    @property
    @abstractmethod
    def current_choice(self) -> Choice | None:
        """The choice the next forward follows; None where nothing is set."""

    @current_choice.setter
    @abstractmethod
    def current_choice(self, choice: Choice | None) -> None: ...

    @property
    def is_fixed(self) -> bool:
        """True once ``fix_chosen`` has run; it can be set only while it is False."""
        return self._is_fixed

    @is_fixed.setter
    def is_fixed(self, is_fixed: bool) -> None:
        if not isinstance(is_fixed, bool):
            raise TypeAssertionError(f"is_fixed must be a bool (True or False), got {is_fixed!r}")
        if self._is_fixed:
            raise AttributeError(
                f"{type(self).__name__} is already fixed; is_fixed cannot be set again"
            )
        self._is_fixed = is_fixed

    @abstractmethod
    def fix_chosen(self, chosen: Chosen) -> None:
        """Make ``chosen`` the permanent choice (irreversible; unused candidates are dropped)."""

    @abstractmethod
    def dump_chosen(self) -> DumpChosen:
        """The current choice and its metadata, in the subnet export format."""

    def export_chosen(self) -> Chosen:
        """The bare chosen value of ``dump_chosen``."""
        return self.dump_chosen().chosen

    def _check_not_fixed(self, method: str) -> None:
        if self._is_fixed:
            raise AttributeAssertionError(
                f"{type(self).__name__} is already fixed; {method} cannot be called again"
            )
