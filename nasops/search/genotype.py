"""The found architecture as people read it: in each cell, every node's two inputs and the
operation on each of those edges (what ``arch.png`` draws and the command prints).
"""

import re
from dataclasses import dataclass
from typing import Any

from torch import nn

from nasops._arch_format import from_human_readable, to_human_readable
from nasops.mutables import InputChoice, LayerChoice

Choice = LayerChoice | InputChoice
CELL_KINDS = ("normal", "reduce")
CELL_NAMES = {"normal": "normal", "reduce": "reduction"}  # the key prefix, as people say it
_NODE_KEY = re.compile(r"^(normal|reduce)_n(\d+)_switch$")


@dataclass(frozen=True)
class Edge:
    """One kept edge into a node: its source (0 and 1 are the cell's inputs ``c_{k-2}`` and
    ``c_{k-1}``, ``2 + j`` is node ``j``) and the operation on it."""

    source: int
    op: str


@dataclass(frozen=True)
class Cell:
    """A searched cell: ``kind`` ("normal" or "reduce") and the kept edges into each node."""

    kind: str
    nodes: list[list[Edge]]


def source_label(source: int) -> str:
    """``c_{k-2}``, ``c_{k-1}``, then the node numbers ``0``, ``1``, ..."""
    return ("c_{k-2}", "c_{k-1}")[source] if source < 2 else str(source - 2)


def choices_of(model: nn.Module) -> dict[str, Choice]:
    """Key → the (first) LayerChoice or InputChoice with that key in ``model``."""
    found: dict[str, Choice] = {}
    for module in model.modules():
        if isinstance(module, (LayerChoice, InputChoice)):
            found.setdefault(module.key, module)
    return found


def readable(architecture: dict[str, Any], choices: dict[str, Choice]) -> dict[str, Any]:
    """Any accepted form of each value (names, indices, multi-hot lists) as ``export()``
    writes it: a candidate name, a list of names, or ``[]``."""
    return {
        key: to_human_readable(choices[key], from_human_readable(choices[key], value))
        for key, value in sorted(architecture.items())
    }


def cells(architecture: dict[str, Any], choices: dict[str, Choice]) -> list[Cell]:
    """The normal and the reduction cell of a DARTS-cell architecture (those present)."""
    nodes: dict[str, dict[int, list[Edge]]] = {}
    for key in sorted(architecture):
        match = _NODE_KEY.match(key)
        if match is None:
            continue
        kind, depth = match.group(1), int(match.group(2))
        switch = from_human_readable(choices[key], architecture[key])
        edges = []
        for source, kept in enumerate(switch):
            edge_key = f"{kind}_n{depth}_p{source}"
            ops = from_human_readable(choices[edge_key], architecture[edge_key])
            names = [name for name, on in zip(choices[edge_key].names, ops, strict=True) if on]
            if kept and names:
                edges.append(Edge(source, "+".join(names)))
        nodes.setdefault(kind, {})[depth] = edges
    return [
        Cell(kind, [nodes[kind][depth] for depth in sorted(nodes[kind])])
        for kind in CELL_KINDS
        if kind in nodes
    ]


def describe(cell_list: list[Cell]) -> list[str]:
    """One line per node: ``normal cell     node 0 = sepconv3x3(c_{k-2}) + maxpool(c_{k-1})``."""
    lines = []
    for cell in cell_list:
        for index, edges in enumerate(cell.nodes):
            terms = " + ".join(f"{edge.op}({source_label(edge.source)})" for edge in edges)
            head = f"{CELL_NAMES[cell.kind]} cell" if index == 0 else ""
            lines.append(f"{head:<15} node {index} = {terms or 'nothing'}")
    return lines
