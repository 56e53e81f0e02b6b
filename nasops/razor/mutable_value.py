"""Value mutables: a searchable number (kernel size, depth, expand ratio)."""

import random
from collections.abc import Sequence
from typing import Any

from nasops.razor.base import BaseMutable, DumpChosen
from nasops.razor.derived import DerivedMethodMixin
from nasops.razor.errors import ValueAssertionError

Value = int | float


class MutableValue(DerivedMethodMixin, BaseMutable[Value, Value]):
    """A value chosen from ``value_list``; combine with ``*`` and ``//`` to derive others.

    Once fixed, ``choices`` is just the fixed value and assigning another value raises.

    Args:
        value_list: the candidate values, all of one type (all int or all float).
        default_value: the initial choice; the first value if omitted.
        alias, init_cfg: see ``BaseMutable``.
    """

    mutable_prefix = "value"

    def __init__(
        self,
        value_list: Sequence[Value],
        default_value: Value | None = None,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(alias=alias, init_cfg=init_cfg)
        values = list(value_list)
        if not values:
            raise ValueError("value_list is empty; give at least one value")
        kinds = {type(v) for v in values}
        if len(kinds) != 1 or not issubclass(kinds.pop(), int | float):
            raise TypeError(
                f"all elements of value_list must be numbers of one type, got {value_list!r}"
            )
        self._choices = values
        self._current_choice: Value = values[0]
        self.current_choice = values[0] if default_value is None else default_value

    @property
    def choices(self) -> list[Value]:
        return self._choices

    @property
    def num_choices(self) -> int:
        return len(self._choices)

    @property
    def current_choice(self) -> Value:
        return self._current_choice

    @current_choice.setter
    def current_choice(self, choice: Value) -> None:
        if choice not in self._choices:
            raise ValueAssertionError(
                f"{type(self).__name__}: choice {choice!r} is not in value_list; accepted "
                f"values are {self._choices}"
            )
        self._current_choice = choice

    def fix_chosen(self, chosen: Value) -> None:
        """Fix to ``chosen``; afterwards ``choices == [chosen]``."""
        if self.is_fixed:
            raise RuntimeError(f"{type(self).__name__} is already fixed; it cannot be fixed twice")
        self.current_choice = chosen
        self._choices = [chosen]
        self.is_fixed = True

    def dump_chosen(self) -> DumpChosen:
        return DumpChosen(chosen=self.current_choice, meta={"all_choices": list(self.choices)})

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(value_list={self._choices}, current_choice={self._current_choice})"

    def __mul__(self, other: Any) -> Any:
        if isinstance(other, BaseMutable) and not isinstance(self, OneShotMutableValue):
            raise TypeError(
                f"unsupported operand for *: {type(self).__name__} and {type(other).__name__}; "
                "only OneShotMutableValue multiplies a channel"
            )
        return super().__mul__(other)


class OneShotMutableValue(MutableValue):
    """A ``MutableValue`` for one-shot search: sorted choices, default max, uniform sampling."""

    def __init__(
        self,
        value_list: Sequence[Value],
        default_value: Value | None = None,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        values = sorted(value_list)
        super().__init__(
            values,
            default_value=values[-1] if default_value is None and values else default_value,
            alias=alias,
            init_cfg=init_cfg,
        )

    @property
    def max_choice(self) -> Value:
        return self.choices[-1]

    @property
    def min_choice(self) -> Value:
        return self.choices[0]

    def sample_choice(self) -> Value:
        return random.choice(self.choices)
