"""The search space as a tree: scopes are inner nodes, choices are leaves."""

from collections.abc import Iterator
from typing import Any


class StructuredMutableTreeNode:
    """A node of the parsed search space.

    The root holds ``mutable=None``; every other node holds one mutable. Only a
    :class:`~nasops.mutables.MutableScope` has children, because choices may not nest. Iterating a
    node walks its subtree in pre-order, yielding the first mutable seen for each key.
    """

    def __init__(self, mutable: Any) -> None:
        self.mutable = mutable
        self.children: list[StructuredMutableTreeNode] = []

    def add_child(self, mutable: Any) -> "StructuredMutableTreeNode":
        """Append a node holding ``mutable`` and return it."""
        self.children.append(StructuredMutableTreeNode(mutable))
        return self.children[-1]

    def type(self) -> type:
        """The class of the mutable held here (``NoneType`` at the root)."""
        return type(self.mutable)

    def __iter__(self) -> Iterator[Any]:
        return self.traverse()

    def traverse(
        self, order: str = "pre", deduplicate: bool = True, memo: set[str] | None = None
    ) -> Iterator[Any]:
        """Yield the mutables of this subtree.

        Args:
            order: "pre" yields a node before its children, "post" after them.
            deduplicate: skip a mutable whose key was already yielded (shared decisions appear
                once, at their first position).
            memo: keys already yielded; shared by the whole walk so deduplication spans subtrees.
        """
        if order not in ("pre", "post"):
            raise ValueError(f'traverse: order must be "pre" or "post", got {order!r}')
        if memo is None:
            memo = set()
        if order == "pre":
            yield from self._own(deduplicate, memo)
        for child in self.children:
            yield from child.traverse(order, deduplicate, memo)
        if order == "post":
            yield from self._own(deduplicate, memo)

    def _own(self, deduplicate: bool, memo: set[str]) -> Iterator[Any]:
        if self.mutable is None:
            return
        if deduplicate and self.mutable.key in memo:
            return
        memo.add(self.mutable.key)
        yield self.mutable
