"""Finding the mutables of a model by name, once each, derived mutables resolved to sources."""

from torch import nn

from nasops.razor.base import BaseMutable
from nasops.razor.channel import MutableChannelContainer
from nasops.razor.derived import DerivedMutable


def named_source_mutables(model: nn.Module) -> dict[str, BaseMutable]:
    """Every non-derived mutable of ``model`` (containers excluded) by module name.

    A derived mutable contributes those of its sources that are not registered in the model
    themselves, under its own name (``name.source_<i>`` when it has several such sources).
    """
    registered = {
        id(m): name
        for name, m in model.named_modules()
        if isinstance(m, BaseMutable) and not isinstance(m, DerivedMutable)
    }
    found: dict[str, BaseMutable] = {}
    seen: set[int] = set()
    for name, m in model.named_modules():
        if isinstance(m, MutableChannelContainer) or not isinstance(m, BaseMutable):
            continue
        if isinstance(m, DerivedMutable):
            loose = [s for s in m.ordered_sources if id(s) not in registered and id(s) not in seen]
            for i, source in enumerate(loose):
                found[name if len(loose) == 1 else f"{name}.source_{i}"] = source
                seen.add(id(source))
        elif id(m) not in seen:
            found[name] = m
            seen.add(id(m))
    return found
