"""Derived mutables: quantities computed live from other mutables (``mid = in * 4``).

A ``DerivedMutable`` has no search space of its own; its choice (and channel mask) is a function
of its source mutables, found by walking the closures of those functions.
"""

import inspect
import itertools
import logging
from collections.abc import Callable, Iterable
from typing import Any

import torch

from nasops.razor.base import BaseMutable, DumpChosen

Number = int | float
logger = logging.getLogger(__name__)


def make_divisible(
    value: float, divisor: int, min_value: int | None = None, min_ratio: float = 0.9
) -> int:
    """Round ``value`` to the nearest multiple of ``divisor``, at least ``min_value``
    (default ``divisor``), adding one ``divisor`` if rounding lost more than ``1 - min_ratio``.
    """
    if min_value is None:
        min_value = divisor
    new_value = max(min_value, int(value + divisor / 2) // divisor * divisor)
    if new_value < min_ratio * value:
        new_value += divisor
    return new_value


def _is_number(x: Any) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _has_mask(m: Any) -> bool:
    return bool(getattr(m, "has_mask", False))


def _prefix_mask(length: int, ones: int, like: torch.Tensor) -> torch.Tensor:
    mask = torch.zeros(length, dtype=torch.bool, device=like.device)
    mask[:ones] = True
    return mask


def _concat_choice_fn(mutables: Iterable[Any]) -> Callable[[], int]:
    """The choice of channels side by side: the sum of their active counts (live)."""
    parts = list(mutables)

    def choice_fn() -> int:
        return sum(m._derive_number() for m in parts)

    return choice_fn


def _concat_mask_fn(mutables: Iterable[Any]) -> Callable[[], torch.Tensor]:
    """The mask of channels side by side: their masks concatenated (live)."""
    parts = list(mutables)

    def mask_fn() -> torch.Tensor:
        return torch.cat([m.current_mask for m in parts])

    return mask_fn


class DerivedMethodMixin:
    """Derivations shared by values, channels and derived mutables, and their operators.

    ``m * k`` expands, ``m // k`` divides (``k`` an int or float is truncated to an int and
    uses divisor 8, as mmrazor does; ``(ratio, divisor)`` gives both). A channel times a
    one-shot value is live in both operands.
    """

    def _derive_number(self) -> Number:
        """The number a derivation scales: the choice, or the active channel count."""
        return self.current_choice  # type: ignore[attr-defined]

    def derive_same_mutable(self) -> "DerivedMutable":
        return self.derive_expand_mutable(1)

    def derive_expand_mutable(self, expand_ratio: "Number | BaseMutable") -> "DerivedMutable":
        """``int(choice * ratio)``; a mutable ratio is read live at each access."""
        source = self
        if _is_number(expand_ratio):
            ratio_now: Callable[[], Number] = lambda: expand_ratio  # noqa: E731
            ratio_max: Callable[[], Number] = ratio_now
        elif isinstance(expand_ratio, BaseMutable):
            ratio_mutable = expand_ratio
            ratio_now = lambda: ratio_mutable.current_choice  # noqa: E731
            ratio_max = lambda: getattr(ratio_mutable, "max_choice", ratio_now())  # noqa: E731
        else:
            raise TypeError(f"expand_ratio must be a number or a mutable, got {expand_ratio!r}")

        def choice_fn() -> int:
            return int(source._derive_number() * ratio_now())

        mask_fn = None
        if _has_mask(self):

            def mask_fn() -> torch.Tensor:
                src_mask = source.current_mask  # type: ignore[attr-defined]
                length = int(src_mask.numel() * ratio_max())
                return _prefix_mask(length, int(source._derive_number() * ratio_now()), src_mask)

        return DerivedMutable(choice_fn=choice_fn, mask_fn=mask_fn)

    def derive_divide_mutable(
        self, ratio: "Number | BaseMutable", divisor: int = 8
    ) -> "DerivedMutable":
        """``make_divisible(choice // ratio, divisor)``; a float or mutable ratio uses
        ``int(ratio)`` and divisor 1.
        """
        source = self
        if isinstance(ratio, float):
            ratio, divisor = int(ratio), 1
        if isinstance(ratio, int) and not isinstance(ratio, bool):
            fixed_ratio = ratio
            ratio_now: Callable[[], int] = lambda: fixed_ratio  # noqa: E731
        elif isinstance(ratio, BaseMutable):
            ratio_mutable, divisor = ratio, 1
            ratio_now = lambda: int(ratio_mutable.current_choice)  # noqa: E731
        else:
            raise TypeError(f"ratio must be an int, float or mutable, got {ratio!r}")

        def choice_fn() -> int:
            return make_divisible(source._derive_number() // ratio_now(), divisor)

        mask_fn = None
        if _has_mask(self):

            def mask_fn() -> torch.Tensor:
                src_mask = source.current_mask  # type: ignore[attr-defined]
                length = make_divisible(src_mask.numel() // ratio_now(), divisor)
                return _prefix_mask(length, choice_fn(), src_mask)

        return DerivedMutable(choice_fn=choice_fn, mask_fn=mask_fn)

    @staticmethod
    def derive_concat_mutable(mutables: Iterable[BaseMutable]) -> "DerivedMutable":
        """Channels side by side (``in(conv3) = out(conv1) + out(conv2)``): choices add up,
        masks concatenate.
        """
        parts = list(mutables)
        for m in parts:
            if not _has_mask(m):
                raise RuntimeError(
                    f"concat needs mutables with a current_mask (channels); {type(m).__name__} "
                    "has none"
                )
        return DerivedMutable(choice_fn=_concat_choice_fn(parts), mask_fn=_concat_mask_fn(parts))

    def __mul__(self, other: Any) -> "DerivedMutable":
        if _is_number(other):
            return self.derive_expand_mutable(other)
        if isinstance(other, BaseMutable):
            channel, value = (self, other) if _has_mask(self) else (other, self)
            if _has_mask(channel) and not _has_mask(value) and hasattr(value, "max_choice"):
                return channel.derive_expand_mutable(value)  # type: ignore[attr-defined]
        raise TypeError(
            f"unsupported operand for *: {type(self).__name__} and {type(other).__name__}; "
            "accepted are an int or float, or a channel with a one-shot value"
        )

    def __rmul__(self, other: Any) -> "DerivedMutable":
        return self.__mul__(other)

    def __floordiv__(self, other: Any) -> "DerivedMutable":
        if isinstance(other, tuple) and len(other) == 2:
            return self.derive_divide_mutable(*other)
        if isinstance(other, float):
            # mmrazor's ``//`` truncates a float ratio and keeps divisor 8, like ``// int``.
            return self.derive_divide_mutable(int(other))
        if _is_number(other) or (isinstance(other, BaseMutable) and not _has_mask(other)):
            return self.derive_divide_mutable(other)
        raise TypeError(
            f"unsupported operand for //: {type(self).__name__} and {other!r}; accepted are an "
            "int, a float, a (ratio, divisor) tuple or a value mutable"
        )


def _find_sources(obj: Any, found: dict[BaseMutable, None], seen: set[int]) -> None:
    if id(obj) in seen:
        return
    seen.add(id(obj))
    if isinstance(obj, DerivedMutable):
        found.update(dict.fromkeys(obj.ordered_sources))
    elif isinstance(obj, BaseMutable):
        found[obj] = None
    elif isinstance(obj, dict):
        for item in itertools.chain(obj.keys(), obj.values()):
            _find_sources(item, found, seen)
    elif isinstance(obj, list | tuple | set | frozenset):
        for item in obj:
            _find_sources(item, found, seen)
    elif inspect.isfunction(obj):
        for var in inspect.getclosurevars(obj).nonlocals.values():
            _find_sources(var, found, seen)


class DerivedMutable(DerivedMethodMixin, BaseMutable[Any, Any]):
    """A mutable whose choice (and mask) is computed from source mutables on every access.

    Args:
        choice_fn: returns the current choice.
        mask_fn: returns the current channel mask (optional).
        source_mutables: the mutables the functions read; found in their closures if omitted.
        alias, init_cfg: see ``BaseMutable``.
    """

    def __init__(
        self,
        choice_fn: Callable[[], Any],
        mask_fn: Callable[[], torch.Tensor] | None = None,
        source_mutables: Iterable[BaseMutable] | None = None,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(alias=alias, init_cfg=init_cfg)
        self.choice_fn = choice_fn
        self.mask_fn = mask_fn
        if source_mutables is None:
            found: dict[BaseMutable, None] = {}
            for fn in (choice_fn, mask_fn):
                if fn is not None:
                    _find_sources(fn, found, set())
            if not found:
                raise RuntimeError(
                    "no source mutable found in the closures of choice_fn/mask_fn; pass "
                    "source_mutables explicitly"
                )
            sources = list(found)
        else:
            sources = list(dict.fromkeys(source_mutables))
            for m in sources:
                if isinstance(m, DerivedMutable) or not isinstance(m, BaseMutable):
                    raise ValueError(
                        f"source_mutables must be source (non-derived) mutables, got {m!r}"
                    )
        # Plain attributes, so the sources are not registered as submodules of this one.
        object.__setattr__(self, "ordered_sources", tuple(sources))
        object.__setattr__(self, "source_mutables", frozenset(sources))

    @property
    def has_mask(self) -> bool:
        return self.mask_fn is not None

    @property
    def current_choice(self) -> Any:
        return self.choice_fn()

    @current_choice.setter
    def current_choice(self, choice: Any) -> None:
        raise RuntimeError("the choice of a derived mutable cannot be set; set its sources")

    @property
    def current_mask(self) -> torch.Tensor:
        if self.mask_fn is None:
            raise RuntimeError("this derived mutable has no mask_fn, so no current_mask")
        return self.mask_fn()

    @current_mask.setter
    def current_mask(self, mask: torch.Tensor) -> None:
        raise RuntimeError("the mask of a derived mutable cannot be set; set its sources")

    @property
    def is_fixed(self) -> bool:
        """True once every source is fixed."""
        return all(m.is_fixed for m in self.source_mutables)

    @is_fixed.setter
    def is_fixed(self, is_fixed: bool) -> None:
        raise RuntimeError("a derived mutable is fixed through its sources, not directly")

    def fix_chosen(self, chosen: Any = None) -> None:
        """No effect (logged, as mmrazor does): a derived mutable follows its sources."""
        logger.warning(
            "fix_chosen on a derived mutable has no effect; fix its source mutables instead"
        )

    def dump_chosen(self) -> DumpChosen:
        """The current value, logged as mmrazor does: it depends on the source mutables."""
        logger.warning("dump_chosen on a derived mutable: its value depends on its source mutables")
        return DumpChosen(chosen=self.current_choice, meta=None)

    @property
    def num_choices(self) -> int:
        """1: a derived mutable adds no dimension to the search space."""
        return 1

    @property
    def choices(self) -> list[Any]:
        """Every value the choice takes over the product of the sources' choices."""
        sources = self.ordered_sources
        for m in sources:
            if not hasattr(m, "choices"):
                raise TypeError(f"source {type(m).__name__} has no choices to enumerate")
        saved = [m.current_choice for m in sources]
        values = []
        try:
            for combo in itertools.product(*(m.choices for m in sources)):
                for m, c in zip(sources, combo, strict=True):
                    m.current_choice = c
                values.append(self.current_choice)
        finally:
            for m, c in zip(sources, saved, strict=True):
                m.current_choice = c
        return values

    def __repr__(self) -> str:
        return f"{type(self).__name__}(current_choice={self.current_choice})"
