"""The found architecture as people read it: in each cell, every node's inputs and the
operation on each of those edges (what ``arch.png`` draws and the command prints).

It reads the keys of the three spaces of :mod:`nasops.search.supernet`: DARTS cells
(``<kind>_n<k>_p<i>`` edges, a ``<kind>_n<k>_switch`` keeping two, absent when every edge is
kept) and ENAS micro layers (``<kind>_node_<j>_<x|y>_input`` and ``_op``).
"""

import re
from dataclasses import dataclass
from typing import Any

from torch import nn

from nasops._arch_format import from_human_readable, to_human_readable
from nasops.mutables import InputChoice, LayerChoice
from nasops.search_space_zoo.enas_cell import MICRO_OPS

Choice = LayerChoice | InputChoice
CELL_KINDS = ("normal", "reduce")
CELL_NAMES = {"normal": "normal", "reduce": "reduction"}  # the key prefix, as people say it
_DARTS_EDGE = re.compile(r"^(normal|reduce)_n(\d+)_p(\d+)$")
_ENAS_INPUT = re.compile(r"^(normal|reduce)_node_(\d+)_[xy]_input$")


@dataclass(frozen=True)
class Edge:
    """One kept edge into a node: its source (0 and 1 are the cell's inputs ``c_{k-2}`` and
    ``c_{k-1}``, ``2 + j`` is node ``j``) and the operation on it."""

    source: int
    op: str


@dataclass(frozen=True)
class Cell:
    """A searched cell: ``kind`` ("normal" or "reduce"), the kept edges into each node, and
    the vertices (numbered as :attr:`Edge.source`) whose concatenation is the cell's output."""

    kind: str
    nodes: list[list[Edge]]
    outputs: list[int]


# How each search space's cells combine their edges and form their output (arch.png's caption).
CAPTIONS = {
    "darts": "each node sums its two kept edges, labelled with their operations; "
    "the cell outputs the nodes concatenated (dashed) as $c_{k}$",
    "darts-all-edges": "each node sums all its edges, labelled with their operations; "
    "the cell outputs the nodes concatenated (dashed) as $c_{k}$",
    "enas": "each node adds two operations, each on an earlier vertex; the layer outputs "
    "the vertices no node reads, concatenated (dashed), as $c_{k}$",
}


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
    """The normal and the reduction cell of the architecture (those present)."""
    nodes: dict[str, dict[int, list[Edge]]] = {}
    enas_keys = False
    for key in sorted(architecture, key=_natural):
        darts, enas = _DARTS_EDGE.match(key), _ENAS_INPUT.match(key)
        if darts is not None:
            kind, node, source = darts.group(1), int(darts.group(2)) - 2, int(darts.group(3))
            switch = f"{kind}_n{node + 2}_switch"
            if switch in architecture and not _chosen(architecture, choices, switch)[source]:
                continue
            ops = _chosen(architecture, choices, key)
            names = [name for name, on in zip(choices[key].names, ops, strict=True) if on]
        elif enas is not None:
            enas_keys = True
            kind, node = enas.group(1), int(enas.group(2))
            source = _chosen(architecture, choices, key).index(True)
            op_key = key.removesuffix("_input") + "_op"
            names = [MICRO_OPS[_chosen(architecture, choices, op_key).index(True)]]
        else:
            continue
        edges = nodes.setdefault(kind, {}).setdefault(node, [])
        if names:
            edges.append(Edge(source, "+".join(names)))
    return [_cell(kind, nodes[kind], enas_keys) for kind in CELL_KINDS if kind in nodes]


def _cell(kind: str, nodes: dict[int, list[Edge]], enas: bool) -> Cell:
    """The cell of ``kind``; a DARTS cell outputs every node, an ENAS layer every vertex no
    node reads."""
    edges = [nodes[node] for node in sorted(nodes)]
    if not enas:
        return Cell(kind, edges, list(range(2, 2 + len(edges))))
    read = {edge.source for node_edges in edges for edge in node_edges}
    return Cell(kind, edges, [vertex for vertex in range(2 + len(edges)) if vertex not in read])


def _chosen(architecture: dict[str, Any], choices: dict[str, Choice], key: str) -> list:
    return from_human_readable(choices[key], architecture[key])


def _natural(key: str) -> list[Any]:
    """Sort ``n10`` after ``n9``: digit runs compare as numbers."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def describe(cell_list: list[Cell]) -> list[str]:
    """One line per node: ``normal cell     node 0 = sepconv3x3(c_{k-2}) + maxpool(c_{k-1})``."""
    lines = []
    for cell in cell_list:
        for index, edges in enumerate(cell.nodes):
            terms = " + ".join(f"{edge.op}({source_label(edge.source)})" for edge in edges)
            head = f"{CELL_NAMES[cell.kind]} cell" if index == 0 else ""
            lines.append(f"{head:<15} node {index} = {terms or 'nothing'}")
    return lines
