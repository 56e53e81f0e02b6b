"""What both compat layers do with ``sys.modules``: empty alias packages, linking aliases to
their parents, and removing them again (each layer says which names and targets)."""

import sys
import types

MARK = "__nasops_compat__"  # set on the alias packages made here, never on nasops' own modules


def alias_package(name: str, doc: str) -> types.ModuleType:
    """An empty package named ``name``, marked as a nasops alias; an unknown submodule of it
    fails with ``ModuleNotFoundError``."""
    module = types.ModuleType(name, doc)
    module.__path__ = []
    setattr(module, MARK, True)
    return module


def is_alias(module: object) -> bool:
    """Whether ``module`` is a package made by :func:`alias_package`."""
    return getattr(module, MARK, False)


def register(modules: dict[str, types.ModuleType]) -> None:
    """Put ``modules`` (dotted name → module) into ``sys.modules``.

    ``import a.b.c`` binds ``a`` and reads ``a.b.c`` as attributes, so each alias is linked to
    its parent package; only the fresh alias packages get attributes, nasops' modules stay
    untouched.
    """
    for name, module in modules.items():
        parent, _, child = name.rpartition(".")
        if parent and is_alias(modules[parent]):
            setattr(modules[parent], child, module)
    sys.modules.update(modules)


def unregister(root: str) -> None:
    """Remove ``root`` and every ``root.*`` module from ``sys.modules``."""
    for name in [n for n in sys.modules if n == root or n.startswith(f"{root}.")]:
        del sys.modules[name]
