"""Finding the mutables of a model: the search-space tree, with NNI's structural checks."""

from typing import Any

from torch import nn

from nasops._tree import StructuredMutableTreeNode
from nasops.mutables import InputChoice, Mutable, MutableScope


def parse_search_space(model: nn.Module, mutator: Any) -> StructuredMutableTreeNode:
    """Attach ``mutator`` to every mutable of ``model`` and return the search-space tree.

    A depth-first walk of ``_modules`` in registration order; a module registered twice is
    visited once (its ``name`` is its first path). Raises ``RuntimeError`` for a mutable inside a
    LayerChoice or InputChoice (only scopes nest), for a ``choose_from`` key that no earlier
    mutable has, and (through ``set_mutator``) for a model parsed twice.
    """
    root = StructuredMutableTreeNode(None)
    _visit(model, root, "", mutator, set(), set(), None)
    return root


def _visit(
    module: nn.Module,
    node: StructuredMutableTreeNode,
    prefix: str,
    mutator: Any,
    visited: set[int],
    seen_keys: set[str],
    enclosing_choice: Mutable | None,
) -> None:
    if id(module) in visited:
        return
    visited.add(id(module))
    if isinstance(module, Mutable):
        if enclosing_choice is not None:
            raise RuntimeError(
                f"Cannot have nested search space. Error at {module} in {enclosing_choice}"
            )
        module.name = prefix
        module.set_mutator(mutator)
        node = node.add_child(module)
        seen_keys.add(module.key)
        if not isinstance(module, MutableScope):
            enclosing_choice = module
        if isinstance(module, InputChoice):
            _check_sources(module, seen_keys)
    for name, child in module._modules.items():
        if child is not None:
            path = f"{prefix}.{name}" if prefix else name
            _visit(child, node, path, mutator, visited, seen_keys, enclosing_choice)


def _check_sources(choice: InputChoice, seen_keys: set[str]) -> None:
    for source in choice.choose_from:
        if source != InputChoice.NO_KEY and source not in seen_keys:
            raise RuntimeError(
                f"'{source}' required by '{choice.key}' not found in keys that appeared before, "
                "and is not NO_KEY."
            )
