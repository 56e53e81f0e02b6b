"""Building a mutable's candidates from modules or config dicts.

Config dicts whose ``type`` is a class or callable are built directly; a string ``type`` goes
through the ``'mmrazor'`` registry (``nasops.razor.registry``, a child of mmengine's), which is
imported only then (mmengine stays optional).
"""

import copy
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from torch import nn

from nasops.razor.errors import ValueAssertionError


def build_from_registry(cfg: dict[str, Any]) -> nn.Module:
    """Build ``cfg`` (``type`` a registered name) with the ``'mmrazor'`` MODELS registry."""
    try:
        from nasops.razor.registry import MODELS
    except ModuleNotFoundError as err:
        if not (err.name or "").startswith("mmengine"):
            raise
        raise ImportError(
            f"candidate config type {cfg['type']!r} is a registry name, which needs mmengine "
            "(not installed); pass a class or callable as 'type' instead"
        ) from err
    return MODELS.build(cfg)


def build_candidate(cfg: Mapping[str, Any]) -> nn.Module:
    """Build one module from a config dict ``{'type': cls | callable | str, **kwargs}``."""
    if "type" not in cfg:
        raise ValueError(f"candidate config {dict(cfg)!r} has no 'type' key")
    kwargs = dict(cfg)
    factory: str | Callable[..., Any] = kwargs.pop("type")
    if isinstance(factory, str):
        module = build_from_registry(dict(cfg))
    elif callable(factory):
        module = factory(**kwargs)
    else:
        raise TypeError(
            f"candidate config 'type' must be a class, callable or str, got {factory!r}"
        )
    if not isinstance(module, nn.Module):
        raise TypeError(
            f"candidate config {dict(cfg)!r} built {type(module).__name__}, not a Module"
        )
    return module


def build_candidates(
    candidates: Mapping[str, Any], module_kwargs: Mapping[str, Any] | None = None
) -> nn.ModuleDict:
    """Turn ``candidates`` into an ``nn.ModuleDict`` keyed by choice name.

    Args:
        candidates: an ``nn.ModuleDict``, a dict of modules, or a dict of config dicts.
        module_kwargs: merged into every config dict (the caller's dicts are not modified);
            ignored, with a warning, for ready-made modules.
    """
    if not isinstance(candidates, Mapping | nn.ModuleDict):
        raise TypeError(
            "candidates must be an nn.ModuleDict, a dict of modules or a dict of config dicts, "
            f"got {type(candidates).__name__}"
        )
    if len(candidates) == 0:
        raise ValueAssertionError("candidates is empty; give at least one candidate")
    built = nn.ModuleDict()
    for name, cand in candidates.items():
        if not isinstance(name, str):
            raise TypeError(f"candidate names must be str, got {name!r}")
        if isinstance(cand, nn.Module):
            if module_kwargs:
                warnings.warn(
                    f"module_kwargs are ignored for the ready-made module candidate {name!r}",
                    UserWarning,
                    stacklevel=3,
                )
            built[name] = cand
        elif isinstance(cand, Mapping):
            cfg = copy.copy(dict(cand))
            cfg.update(module_kwargs or {})
            built[name] = build_candidate(cfg)
        else:
            raise TypeError(
                f"candidate {name!r} must be an nn.Module or a config dict, got "
                f"{type(cand).__name__}"
            )
    return built
