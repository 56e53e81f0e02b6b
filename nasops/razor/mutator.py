"""``NasMutator``: the search space of a supernet as named groups, and their sampling.

Each group is a list of mutables that always take the same choice: one per alias, one per
custom group, one per remaining mutable. Groups are named ``<prefix>_<i>`` (``module``,
``value`` or ``channel``) with one counter shared across prefixes.
"""

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from nasops._memory import check_memory
from nasops.distributed.rng import sampled_alike
from nasops.razor._walk import named_source_mutables
from nasops.razor.base import BaseMutable
from nasops.razor.channel import BaseMutableChannel
from nasops.razor.diff import DiffMutableModule, DiffMutableOP
from nasops.razor.errors import RuntimeAttributeError, ValueAssertionError, ValueAttributeError
from nasops.razor.mutable_module import MutableModule

KINDS = ("random", "max", "min")


def _searchable(m: BaseMutable) -> bool:
    return hasattr(type(m), "mutable_prefix")


def build_search_groups(
    supernet: nn.Module, custom_groups: Sequence[Sequence[str]] | None = None
) -> dict[str, list[BaseMutable]]:
    """Group the searchable mutables of ``supernet``; see the module docstring.

    ``custom_groups`` entries are module names or aliases. A key that is neither, a module
    listed twice, an alias listed together with one of its modules, or members whose prefix
    or choices differ raise ``ValueError``.
    """
    name2mutable = {n: m for n, m in named_source_mutables(supernet).items() if _searchable(m)}
    alias2names: dict[str, list[str]] = {}
    for name, m in name2mutable.items():
        if m.alias is not None:
            alias2names.setdefault(m.alias, []).append(name)

    named_groups: list[list[str]] = []
    for group in custom_groups or []:
        if isinstance(group, str) or not group:
            raise ValueAssertionError(
                f"custom_groups entries must be non-empty lists of keys, got {group!r}"
            )
        names: list[str] = []
        for key in group:
            if key in alias2names:
                clash = [n for n in alias2names[key] if n in group]
                if clash:
                    raise ValueAssertionError(
                        f"custom_groups key {key!r} is an alias; list either it or its modules "
                        f"{alias2names[key]}, not both (got {clash})"
                    )
                names.extend(alias2names[key])
            elif key in name2mutable:
                names.append(key)
            else:
                legal = sorted(alias2names) + sorted(name2mutable)
                raise ValueAssertionError(
                    f"custom_groups key {key!r} is not legal; legal keys are {legal}"
                )
        named_groups.append(names)
    for names in alias2names.values():
        taken = {n for g in named_groups for n in g}
        rest = [n for n in names if n not in taken]
        if rest:
            named_groups.append(rest)
    taken = {n for g in named_groups for n in g}
    named_groups.extend([n] for n in name2mutable if n not in taken)

    flat = [n for g in named_groups for n in g]
    duplicates = sorted({n for n in flat if flat.count(n) > 1})
    if duplicates:
        raise ValueAssertionError(f"custom_groups list these mutables more than once: {duplicates}")

    groups: dict[str, list[BaseMutable]] = {}
    for i, names in enumerate(named_groups):
        members = [name2mutable[n] for n in names]
        prefixes = [type(m).mutable_prefix for m in members]
        choices = [list(m.choices) for m in members]
        if any(p != prefixes[0] for p in prefixes) or any(c != choices[0] for c in choices):
            raise ValueAssertionError(
                f"the mutables {names} form one group but differ in kind ({prefixes}) or "
                f"choices ({choices}); a group shares one choice"
            )
        groups[f"{prefixes[0]}_{i}"] = members
    return groups


class NasMutator(nn.Module):
    """Samples and sets the choices of a supernet's search groups.

    A module, so that ``mutator.parameters()`` yields the architecture parameters made by
    ``prepare_arch_params`` (differentiable search optimizes them separately).

    Args:
        custom_groups: lists of module names or aliases that must share one choice.
        init_cfg: kept for mmrazor signature compatibility; not read.
        memory: ``"default"``, or ``"recompute"``: each ``DiffMutableOP`` then recomputes its
            candidates in backward, one at a time, instead of keeping their activations (on the
            CPU only those with weights; :mod:`nasops.ops.recompute`); set on the mutables by
            ``prepare_arch_params``.
    """

    def __init__(
        self,
        custom_groups: Sequence[Sequence[str]] | None = None,
        init_cfg: dict | None = None,
        memory: str = "default",
    ) -> None:
        super().__init__()
        self.memory = check_memory(memory)
        self.custom_groups = [list(g) for g in custom_groups or []]
        self.init_cfg = init_cfg
        self._search_groups: dict[str, list[BaseMutable]] | None = None
        self._arch_params: nn.ParameterDict | None = None

    def __getattr__(self, name: str) -> Any:
        # A property whose getter raises AttributeError (``arch_params`` before preparing,
        # ``max_choices`` on module groups) makes Python fall back to ``__getattr__``, where
        # nn.Module would replace its message: run the getter again to raise its own error.
        prop = getattr(type(self), name, None)
        if isinstance(prop, property):
            return prop.fget(self)
        return super().__getattr__(name)

    def prepare_from_supernet(self, supernet: nn.Module) -> None:
        """Build the search groups of ``supernet`` (call again after changing the model)."""
        self._search_groups = build_search_groups(supernet, self.custom_groups)
        self._arch_params = None

    @property
    def search_groups(self) -> dict[str, list[BaseMutable]]:
        if self._search_groups is None:
            raise RuntimeError("call prepare_from_supernet first to get the search space")
        return self._search_groups

    def has_channel(self, supernet: nn.Module) -> bool:
        return any(isinstance(m, BaseMutableChannel) for m in supernet.modules())

    def prepare_arch_params(self) -> None:
        """Create one architecture parameter per differentiable group and bind it to the
        group's mutables; one-shot groups get none.
        """
        params = nn.ParameterDict()
        for name, group in self.search_groups.items():
            if isinstance(group[0], DiffMutableModule):
                device = next((p.device for p in group[0].parameters()), torch.device("cpu"))
                params[name] = nn.Parameter(torch.randn(group[0].num_choices, device=device) * 1e-3)
        self._arch_params = params
        for name, param in params.items():
            for m in self.search_groups[name]:
                m.set_forward_args(arch_param=param)  # type: ignore[attr-defined]
                if isinstance(m, DiffMutableOP):
                    m.memory = self.memory

    @property
    def arch_params(self) -> nn.ParameterDict:
        if self._arch_params is None:
            raise RuntimeAttributeError("call prepare_arch_params first to create the arch params")
        return self._arch_params

    def _arch_param(self, name: str) -> nn.Parameter | None:
        if self._arch_params is None or name not in self._arch_params:
            return None
        return self._arch_params[name]

    @sampled_alike  # the same choices on every rank under torch.distributed
    def sample_choices(self, kind: str = "random") -> dict[str, Any]:
        """One choice per group: uniform (``'random'``), largest or smallest value.

        A group with an arch param takes the choice its arch param prefers whatever ``kind``
        (a warning says so for ``'max'``/``'min'``). ``'max'``/``'min'`` on a module group,
        whose candidates have no order, raise ``ValueError``.
        """
        if kind not in KINDS:
            raise NotImplementedError(f"sample_choices: kind={kind!r} is not one of {KINDS}")
        choices = {}
        for name, group in self.search_groups.items():
            param = self._arch_param(name)
            if param is not None:
                if kind != "random":
                    warnings.warn(
                        f"group {name!r} has an arch param, which has no {kind} choice; "
                        "sampling by the arch param instead",
                        UserWarning,
                        stacklevel=2,
                    )
                choices[name] = group[0].sample_choice(param)  # type: ignore[attr-defined]
            elif kind == "random":
                choices[name] = group[0].sample_choice()  # type: ignore[attr-defined]
            elif isinstance(group[0], MutableModule):
                raise ValueAttributeError(
                    f"sample_choices: kind={kind!r} needs ordered choices; group {name!r} "
                    f"({type(group[0]).__name__}) chooses among named modules; use 'random'"
                )
            else:
                choices[name] = getattr(group[0], f"{kind}_choice")
        return choices

    def set_choices(self, choices: Mapping[str, Any]) -> None:
        """Set every group's choice; ``choices`` must name each group exactly once."""
        groups = self.search_groups
        missing = [n for n in groups if n not in choices]
        unknown = [n for n in choices if n not in groups]
        if missing or unknown:
            raise KeyError(
                f"set_choices: choices lack the groups {missing} and name unknown groups "
                f"{unknown}; the groups are {list(groups)}"
            )
        for name, group in groups.items():
            for m in group:
                m.current_choice = choices[name]

    @property
    def current_choices(self) -> dict[str, Any]:
        return {name: group[0].current_choice for name, group in self.search_groups.items()}

    @property
    def max_choices(self) -> dict[str, Any]:
        return self.sample_choices("max")

    @property
    def min_choices(self) -> dict[str, Any]:
        return self.sample_choices("min")

    def set_max_choices(self) -> None:
        self.set_choices(self.sample_choices("max"))

    def set_min_choices(self) -> None:
        self.set_choices(self.sample_choices("min"))
