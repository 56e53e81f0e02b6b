"""Run unmodified mmrazor 1.0 NAS code on nasops: ``install()`` makes ``mmrazor`` nasops.razor.

After ``nasops.compat.mmrazor.install()``, ``mmrazor.models`` (the mutables, ``NasMutator``, the
ShuffleNet ops and backbone), ``mmrazor.models.mutables`` and the submodules mmrazor's own code
imports from (``...mutables.derived_mutable``, ``...mutable_module.one_shot_mutable_module``, ...),
``mmrazor.models.mutators``, ``mmrazor.structures(.subnet)`` and ``mmrazor.utils`` resolve to
nasops through ``sys.modules``; with mmengine installed, so do ``mmrazor.registry`` (``MODELS``
of scope ``'mmrazor'``) and ``mmrazor.utils.register_all_modules``. Nothing is written to disk
and a real ``mmrazor`` is never imported.
"""

import importlib
import importlib.util
import sys
import types

import nasops.razor as razor
from nasops.compat import _aliases
from nasops.razor import architectures

_SUBNET = ["export_fix_subnet", "load_fix_subnet", "convert_fix_subnet", "save_fix_subnet"]
_NOT_MUTABLES = {
    "DumpChosen",
    "NasMutator",
    "build_search_groups",
    "make_divisible",
    "build_candidates",
}
_MUTABLES = [n for n in razor.__all__ if n not in _NOT_MUTABLES and n not in _SUBNET]
_MODULE_OPS = [
    "MutableModule",
    "OneShotMutableModule",
    "OneShotMutableOP",
    "OneShotProbMutableOP",
    "DiffMutableModule",
    "DiffMutableOP",
    "OneHotMutableOP",
    "DiffChoiceRoute",
    "GumbelChoiceRoute",
]
_CHANNELS = [
    "BaseMutableChannel",
    "SimpleMutableChannel",
    "SquentialMutableChannel",
    "SequentialMutableChannel",
    "OneShotMutableChannel",
    "MutableChannelContainer",
]
_OPS = ["BaseOP", "ShuffleBlock", "ShuffleXception"]
# mmrazor package path → the names it holds (a fresh package module on nasops objects).
_PACKAGES: dict[str, list[str]] = {
    "mmrazor": [],
    "mmrazor.models": [*_MUTABLES, "NasMutator", *architectures.__all__],
    "mmrazor.models.mutables": _MUTABLES,
    "mmrazor.models.mutables.mutable_module": _MODULE_OPS,
    "mmrazor.models.mutables.mutable_value": ["MutableValue", "OneShotMutableValue"],
    "mmrazor.models.mutables.mutable_channel": _CHANNELS,
    "mmrazor.models.mutators": ["NasMutator"],
    "mmrazor.models.architectures": architectures.__all__,
    "mmrazor.models.architectures.ops": _OPS,
    "mmrazor.models.architectures.backbones": ["SearchableShuffleNetV2"],
    "mmrazor.models.utils": ["make_divisible"],
    "mmrazor.structures": _SUBNET,
    "mmrazor.structures.subnet": _SUBNET,
    "mmrazor.utils": ["DumpChosen", "FixMutable"],
}
# mmrazor module path → the nasops module that implements it (private helpers included).
_MODULES = {
    "mmrazor.models.mutables.base_mutable": "nasops.razor.base",
    "mmrazor.models.mutables.derived_mutable": "nasops.razor.derived",
    "mmrazor.models.mutables.mutable_module.mutable_module": "nasops.razor.mutable_module",
    "mmrazor.models.mutables.mutable_module.one_shot_mutable_module": "nasops.razor.one_shot",
    "mmrazor.models.mutables.mutable_module.diff_mutable_module": "nasops.razor.diff",
    "mmrazor.models.mutables.mutable_value.mutable_value": "nasops.razor.mutable_value",
    "mmrazor.models.mutables.mutable_channel.base_mutable_channel": "nasops.razor.channel",
    "mmrazor.models.mutables.mutable_channel.simple_mutable_channel": "nasops.razor.channel",
    "mmrazor.models.mutables.mutable_channel.sequential_mutable_channel": "nasops.razor.channel",
    "mmrazor.models.mutables.mutable_channel.oneshot_mutable_channel": "nasops.razor.channel",
    "mmrazor.models.mutables.mutable_channel.mutable_channel_container": "nasops.razor.channel",
    "mmrazor.models.mutators.nas_mutator": "nasops.razor.mutator",
    "mmrazor.models.mutators.group_mixin": "nasops.razor.mutator",
    "mmrazor.models.architectures.ops.base": "nasops.razor.architectures.shufflenet_ops",
    "mmrazor.models.architectures.ops.shufflenet_series": (
        "nasops.razor.architectures.shufflenet_ops"
    ),
    "mmrazor.models.architectures.backbones.searchable_shufflenet_v2": (
        "nasops.razor.architectures.shufflenet"
    ),
    "mmrazor.structures.subnet.fix_subnet": "nasops.razor.subnet",
    "mmrazor.utils.typing": "nasops.razor.base",
}
_VERSION = "1.0.0"


def is_installed() -> bool:
    """Whether ``mmrazor`` in ``sys.modules`` is this alias."""
    return _aliases.is_alias(sys.modules.get("mmrazor"))


def has_registry() -> bool:
    """Whether mmengine is importable, so ``mmrazor.registry`` is part of the alias."""
    return importlib.util.find_spec("mmengine") is not None


def install() -> None:
    """Alias mmrazor 1.0's NAS module paths to ``nasops.razor`` (idempotent).

    Raises:
        RuntimeError: a real ``mmrazor`` is already imported; aliasing would mix two
            implementations in one process.
    """
    if is_installed():
        return
    if "mmrazor" in sys.modules:
        raise RuntimeError(
            "nasops.compat.mmrazor.install(): a real 'mmrazor' package is already imported "
            f"(from {getattr(sys.modules['mmrazor'], '__file__', '?')}); call install() before "
            "anything imports mmrazor, or use mmrazor itself"
        )
    modules: dict[str, types.ModuleType] = {}
    for name, names in _PACKAGES.items():
        modules[name] = _package(name, names)
    modules["mmrazor"].__version__ = _VERSION
    for alias, target in _MODULES.items():
        modules[alias] = importlib.import_module(target)
    if has_registry():
        registry = importlib.import_module("nasops.razor.registry")
        modules["mmrazor.registry"] = registry
        modules["mmrazor.utils"].register_all_modules = registry.register_all_modules
    _aliases.register(modules)


def uninstall() -> None:
    """Remove every alias made by :func:`install` (a no-op when not installed)."""
    if is_installed():
        _aliases.unregister("mmrazor")


def _package(name: str, names: list[str]) -> types.ModuleType:
    doc = f"nasops alias of mmrazor's '{name}' (nasops.compat.mmrazor)"
    module = _aliases.alias_package(name, doc)
    sources = (razor, architectures, razor.subnet, razor.base)
    for attr in names:
        setattr(module, attr, next(getattr(s, attr) for s in sources if hasattr(s, attr)))
    module.__all__ = list(names)
    return module
