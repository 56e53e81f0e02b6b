"""Run unmodified NNI v1 NAS code on nasops: ``install()`` makes ``nni.nas.pytorch`` nasops.

After ``nasops.compat.nni.install()``, ``import nni.nas.pytorch.mutables`` (and ``base_mutator``,
``mutator``, ``fixed``, ``utils``, the search spaces ``search_space_zoo`` and ``nasbench201``,
and the algorithms as ``nni.algorithms.nas.pytorch.<name>`` or v1's ``nni.nas.pytorch.<name>``)
resolve to the nasops modules through ``sys.modules``; ``nni.trial`` and NNI's trial calls
(``nni.get_next_parameter``, ``nni.report_final_result``, ...) are :mod:`nasops.trial`'s.
Nothing is installed on disk, and a real ``nni`` package is never imported or modified.
"""

import importlib
import pkgutil
import sys
import types

import nasops
from nasops import algorithms, trial
from nasops.compat import _aliases

# NNI v1 module path (under nni.nas.pytorch) → nasops module.
_CORE = {
    "mutables": "nasops.mutables",
    "base_mutator": "nasops.base_mutator",
    "mutator": "nasops.mutator",
    "fixed": "nasops.fixed",
    "utils": "nasops.utils",
    "base_trainer": "nasops.base_trainer",
    "trainer": "nasops.trainer",
    "callbacks": "nasops.callbacks",
}
# The search-space packages NNI ships under nni.nas.pytorch (each with its submodules).
_SEARCH_SPACES = {
    "search_space_zoo": "nasops.search_space_zoo",
    "nasbench201": "nasops.nasbench201",
}
# Empty packages that only hold the aliases.
_PACKAGES = ("nni", "nni.nas", "nni.algorithms", "nni.algorithms.nas", "nni.algorithms.nas.pytorch")
# Retiarii's one-shot module NNI's v1 ENAS example checks against (see nni_retiarii_random).
_RETIARII_RANDOM = "nni.retiarii.oneshot.pytorch.random"
# What NNI 2.x's ``nni/nas/pytorch/__init__.py`` exports that nasops has.
_TOP_LEVEL = (
    "BaseMutator",
    "Mutator",
    "Mutable",
    "LayerChoice",
    "InputChoice",
    "apply_fixed_architecture",
    "BaseTrainer",
    "Trainer",
)

# NNI's trial API, at the top level of ``nni`` as in NNI (``nni.trial`` is the module too).
_TRIAL_API = (
    "get_next_parameter",
    "get_next_parameters",
    "get_current_parameter",
    "report_intermediate_result",
    "report_final_result",
    "get_experiment_id",
    "get_trial_id",
    "get_sequence_id",
)


def available_algorithms() -> list[str]:
    """The algorithm packages of ``nasops.algorithms`` (each aliased under both NNI paths)."""
    return sorted(info.name for info in pkgutil.iter_modules(algorithms.__path__) if info.ispkg)


def is_installed() -> bool:
    """Whether ``nni`` in ``sys.modules`` is this alias."""
    return _aliases.is_alias(sys.modules.get("nni"))


def install() -> None:
    """Alias the NNI v1 NAS module paths to nasops (idempotent).

    Raises:
        RuntimeError: a real ``nni`` is already imported; aliasing would mix two
            implementations in one process.
    """
    if is_installed():
        return
    if "nni" in sys.modules:
        raise RuntimeError(
            "nasops.compat.nni.install(): a real 'nni' package is already imported "
            f"(from {getattr(sys.modules['nni'], '__file__', '?')}); call install() before "
            "anything imports nni, or use nni itself"
        )
    modules = {name: _package(name) for name in _PACKAGES}
    for name in _TRIAL_API:
        setattr(modules["nni"], name, getattr(trial, name))
    modules["nni.trial"] = trial
    for package in ("nni.retiarii", "nni.retiarii.oneshot", "nni.retiarii.oneshot.pytorch"):
        modules[package] = _package(package)
    modules[_RETIARII_RANDOM] = importlib.import_module("nasops.compat.nni_retiarii_random")
    pytorch = modules["nni.nas.pytorch"] = _package("nni.nas.pytorch")
    for name in _TOP_LEVEL:
        setattr(pytorch, name, getattr(nasops, name))
    for short, target in _CORE.items():
        modules[f"nni.nas.pytorch.{short}"] = importlib.import_module(target)
    for short, source in _SEARCH_SPACES.items():
        modules.update(_package_tree(source, f"nni.nas.pytorch.{short}"))
    for algo in available_algorithms():
        for prefix in ("nni.algorithms.nas.pytorch", "nni.nas.pytorch"):
            modules.update(_package_tree(f"nasops.algorithms.{algo}", f"{prefix}.{algo}"))
    _aliases.register(modules)


def uninstall() -> None:
    """Remove every alias made by :func:`install` (a no-op when not installed)."""
    if is_installed():
        _aliases.unregister("nni")


def _package_tree(source: str, alias: str) -> dict[str, types.ModuleType]:
    """``alias`` → the package ``source``, and ``alias.<sub>`` → each of its modules."""
    package = importlib.import_module(source)
    tree = {alias: package}
    for info in pkgutil.iter_modules(package.__path__):
        tree[f"{alias}.{info.name}"] = importlib.import_module(f"{source}.{info.name}")
    return tree


def _package(name: str) -> types.ModuleType:
    return _aliases.alias_package(name, f"nasops alias of NNI's '{name}' (nasops.compat.nni)")
