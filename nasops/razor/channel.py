"""Channel mutables: which output channels of a layer are active, as a mask."""

import random
from abc import abstractmethod
from collections.abc import Sequence
from typing import Any

import torch

from nasops.razor.base import BaseMutable, DumpChosen
from nasops.razor.derived import DerivedMethodMixin, DerivedMutable
from nasops.razor.errors import ValueAssertionError

ChannelChoice = int | float


class BaseMutableChannel(DerivedMethodMixin, BaseMutable[Any, Any]):
    """A mutable number of channels out of ``num_channels``, exposed as ``current_mask``.

    Once fixed, the choice can no longer change.
    """

    def __init__(self, num_channels: int, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not isinstance(num_channels, int) or isinstance(num_channels, bool) or num_channels < 1:
            raise ValueError(f"num_channels must be a positive int, got {num_channels!r}")
        self.name = ""
        self.num_channels = num_channels

    has_mask = True

    @property
    @abstractmethod
    def current_mask(self) -> torch.Tensor:
        """Bool mask of the active channels, ``num_channels`` long."""

    @property
    def activated_channels(self) -> int:
        return int(self.current_mask.sum())

    def _derive_number(self) -> int:
        return self.activated_channels

    def _check_settable(self, choice: Any) -> None:
        if self.is_fixed:
            raise AttributeError(
                f"{type(self).__name__} is fixed; current_choice cannot change (got {choice!r})"
            )

    def fix_chosen(self, chosen: Any = None) -> None:
        """Fix to ``chosen``, or to the current choice when ``chosen`` is None."""
        self._check_not_fixed("fix_chosen")
        if chosen is not None:
            self.current_choice = chosen
        self.is_fixed = True

    def dump_chosen(self) -> DumpChosen:
        return DumpChosen(
            chosen=self.activated_channels, meta={"max_channels": self.current_mask.numel()}
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(num_channels={self.num_channels}, "
            f"activated_channels={self.activated_channels})"
        )


class SimpleMutableChannel(BaseMutableChannel):
    """Any subset of channels: the choice is the bool mask itself.

    The mask is kept as a float buffer so that it can be broadcast in distributed training.
    """

    def __init__(self, num_channels: int, **kwargs: Any) -> None:
        super().__init__(num_channels, **kwargs)
        self.register_buffer("mask", torch.ones(num_channels))

    @property
    def current_choice(self) -> torch.Tensor:
        return self.mask.bool()

    @current_choice.setter
    def current_choice(self, choice: torch.Tensor) -> None:
        self._check_settable(choice)
        if not isinstance(choice, torch.Tensor) or choice.shape != (self.num_channels,):
            raise ValueError(
                f"current_choice must be a mask tensor of shape ({self.num_channels},), "
                f"got {choice!r}"
            )
        self.mask = choice.to(self.mask)

    @property
    def current_mask(self) -> torch.Tensor:
        return self.mask.bool()

    def expand_mutable_channel(self, expand_ratio: int) -> DerivedMutable:
        """A mutable whose mask repeats each channel bit ``expand_ratio`` times."""

        def mask_fn() -> torch.Tensor:
            return self.current_mask.unsqueeze(-1).expand(-1, expand_ratio).flatten()

        return DerivedMutable(choice_fn=mask_fn, mask_fn=mask_fn)


class SquentialMutableChannel(SimpleMutableChannel):
    """The first ``k`` channels are active (mmrazor's spelling; see ``SequentialMutableChannel``).

    Args:
        num_channels: the maximum channel count.
        choice_mode: ``'number'`` (the choice is ``k``) or ``'ratio'`` (it is ``k / num_channels``).
            The setter accepts either form in both modes: an int is a count, a float a ratio.
    """

    def __init__(self, num_channels: int, choice_mode: str = "number", **kwargs: Any) -> None:
        super().__init__(num_channels, **kwargs)
        if choice_mode not in ("number", "ratio"):
            raise ValueAssertionError(
                f"choice_mode must be 'number' or 'ratio', got {choice_mode!r}"
            )
        self.choice_mode = choice_mode

    @property
    def is_num_mode(self) -> bool:
        return self.choice_mode == "number"

    @property
    def current_choice(self) -> ChannelChoice:
        count = self.activated_channels
        return count if self.is_num_mode else count / self.num_channels

    @current_choice.setter
    def current_choice(self, choice: ChannelChoice) -> None:
        self._check_settable(choice)
        self._set_count(self._to_count(choice))

    def _to_count(self, choice: ChannelChoice) -> int:
        """An int is a count; a float is a ratio of ``num_channels``, clamped to the width
        (as mmrazor reads it: ``120.0`` on 128 channels keeps all 128).
        """
        if isinstance(choice, float) and choice > 0:
            return min(self.num_channels, max(1, int(self.num_channels * choice)))
        if isinstance(choice, int) and not isinstance(choice, bool):
            if 1 <= choice <= self.num_channels:
                return choice
        raise ValueAssertionError(
            f"{type(self).__name__}: choice {choice!r} is neither a channel count in "
            f"[1, {self.num_channels}] nor a positive ratio (a float)"
        )

    def _set_count(self, count: int) -> None:
        mask = torch.zeros_like(self.mask)
        mask[:count] = 1.0
        self.mask = mask


SequentialMutableChannel = SquentialMutableChannel


class OneShotMutableChannel(SquentialMutableChannel):
    """A sequential channel restricted to ``candidate_choices``; one-shot sampling.

    Args:
        num_channels: the maximum channel count.
        candidate_choices: the allowed counts (``'number'``) or ratios (``'ratio'``); the full
            width when omitted. The channel starts at the full width, as in mmrazor.
        choice_mode: see ``SquentialMutableChannel``.
    """

    mutable_prefix = "channel"

    def __init__(
        self,
        num_channels: int,
        candidate_choices: Sequence[ChannelChoice] | None = None,
        choice_mode: str = "number",
        **kwargs: Any,
    ) -> None:
        super().__init__(num_channels, choice_mode=choice_mode, **kwargs)
        full: ChannelChoice = num_channels if self.is_num_mode else 1.0
        candidates = sorted(candidate_choices) if candidate_choices else [full]
        for c in candidates:
            self._to_count(c)
        self.candidate_choices = candidates

    @property
    def choices(self) -> list[ChannelChoice]:
        return list(self.candidate_choices) if not self.is_fixed else [self.current_choice]

    @property
    def num_choices(self) -> int:
        return len(self.choices)

    @property
    def current_choice(self) -> ChannelChoice:
        return SquentialMutableChannel.current_choice.fget(self)

    @current_choice.setter
    def current_choice(self, choice: ChannelChoice) -> None:
        if choice not in self.candidate_choices:
            raise ValueAssertionError(
                f"{type(self).__name__}: choice {choice!r} is not a candidate; accepted are "
                f"{self.candidate_choices}"
            )
        SquentialMutableChannel.current_choice.fset(self, choice)

    @property
    def max_choice(self) -> ChannelChoice:
        return self.choices[-1]

    @property
    def min_choice(self) -> ChannelChoice:
        return self.choices[0]

    def sample_choice(self) -> ChannelChoice:
        return random.choice(self.choices)

    def dump_chosen(self) -> DumpChosen:
        meta = {"all_choices": list(self.candidate_choices), "max_channels": self.num_channels}
        return DumpChosen(chosen=self.current_choice, meta=meta)


class MutableChannelContainer(BaseMutableChannel):
    """The mask of a layer whose channels are governed by several mutables, by range.

    ``register_mutable(m, start, end)`` puts ``m`` over channels ``[start, end)``; ranges not
    covered stay fully active.
    """

    def __init__(self, num_channels: int, **kwargs: Any) -> None:
        super().__init__(num_channels, **kwargs)
        object.__setattr__(self, "mutable_channels", {})

    def register_mutable(self, mutable_channel: BaseMutable, start: int, end: int) -> None:
        size = end - start
        if not 0 <= start < end <= self.num_channels:
            raise ValueError(
                f"range [{start}, {end}) is not inside [0, {self.num_channels}) or is empty"
            )
        mask_size = mutable_channel.current_mask.numel()  # type: ignore[attr-defined]
        if mask_size != size:
            raise ValueError(
                f"range [{start}, {end}) holds {size} channels, the mutable {mask_size}"
            )
        self.mutable_channels[(start, end)] = mutable_channel

    @property
    def current_choice(self) -> torch.Tensor:
        parts: list[torch.Tensor] = []
        last_end = 0
        for (start, end), mutable in sorted(self.mutable_channels.items(), key=lambda kv: kv[0]):
            if start < last_end:
                raise RuntimeError(f"channel range [{start}, {end}) overlaps an earlier one")
            if start > last_end:
                parts.append(torch.ones(start - last_end, dtype=torch.bool))
            parts.append(mutable.current_mask.cpu())
            last_end = end
        if last_end < self.num_channels:
            parts.append(torch.ones(self.num_channels - last_end, dtype=torch.bool))
        return torch.cat(parts)

    @current_choice.setter
    def current_choice(self, choice: Any) -> None:
        raise NotImplementedError("a container's choice follows its registered mutables")

    @property
    def current_mask(self) -> torch.Tensor:
        return self.current_choice
