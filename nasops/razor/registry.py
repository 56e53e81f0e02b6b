"""mmrazor's ``MODELS`` registry on nasops: scope ``'mmrazor'``, a child of mmengine's ``MODELS``.

It holds every module class of ``nasops.razor`` (mutables, ``NasMutator``, the ShuffleNet ops
and backbone) under mmrazor's names, so config dicts such as
``dict(type='OneShotMutableOP', candidates=dict(a=dict(type='ShuffleBlock')))`` or
``dict(type='mmrazor.NasMutator')`` build, and so do the modules users register here or in
mmengine's root registry. Importing this module needs mmengine (an optional dependency).
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from mmengine.registry import MODELS as MMENGINE_MODELS
from mmengine.registry import DefaultScope, Registry
from torch import nn

import nasops.razor as razor
from nasops.razor import architectures


class RazorRegistry(Registry):
    """mmengine's ``Registry`` that knows it is scope ``'mmrazor'``.

    Building under that scope (``_scope_='mmrazor'``, or the default scope) makes mmengine import
    ``mmrazor.registry`` to find the scope's registry, and log that mmrazor is not installed
    when only nasops is. This registry is that scope's, so it uses itself; other scopes switch
    as in mmengine.
    """

    @contextmanager
    def switch_scope_and_registry(self, scope: str | None) -> Iterator[Registry]:
        current = DefaultScope.get_current_instance()
        target = scope if scope is not None else getattr(current, "scope_name", None)
        if target not in (None, self.scope):
            with super().switch_scope_and_registry(scope) as registry:
                yield registry
            return
        with DefaultScope.overwrite_default_scope(scope):
            yield self


# ``locations`` names this module, so mmengine does not look for an ``mmrazor`` package to
# import when it first searches the registry.
MODELS = RazorRegistry("model", parent=MMENGINE_MODELS, scope="mmrazor", locations=[__name__])


def _module_classes(namespace: object, names: list[str]) -> dict[str, type]:
    classes = {name: getattr(namespace, name) for name in names}
    return {n: c for n, c in classes.items() if isinstance(c, type) and issubclass(c, nn.Module)}


for _name, _cls in {
    **_module_classes(razor, razor.__all__),
    **_module_classes(architectures, architectures.__all__),
}.items():
    MODELS.register_module(name=_name, module=_cls, force=True)


def register_all_modules(init_default_scope: bool = True) -> None:
    """mmrazor's hook, which mmengine calls: the modules are registered on import already.

    Args:
        init_default_scope: also make ``'mmrazor'`` the default scope, so config ``type``
            names are looked up here first (what mmrazor's function does).
    """
    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or current.scope_name != "mmrazor":
        created = DefaultScope.check_instance_created("mmrazor")
        name = f"mmrazor-{time.time_ns()}" if created else "mmrazor"
        DefaultScope.get_instance(name, scope_name="mmrazor")
