"""``search.png`` (loss, accuracy and each edge's softmax weights per epoch) and ``arch.png``
(the found cells drawn as graphs), with matplotlib only.

matplotlib is imported inside the functions (Agg backend), so the search runs without it.
"""

import itertools
import math
import re
from pathlib import Path
from typing import Any

from nasops.search.genotype import CELL_KINDS, CELL_NAMES, Cell, source_label
from nasops.search.recorder import SearchRecorder

OP_COLORS = {
    "maxpool": "tab:blue",
    "avgpool": "tab:cyan",
    "skipconnect": "tab:gray",
    "sepconv3x3": "tab:red",
    "sepconv5x5": "tab:orange",
    "dilconv3x3": "tab:green",
    "dilconv5x5": "tab:olive",
}
ZERO_OP = "none (zero op)"
NODE_SPACING = 2.6  # arch.png: between the nodes of a cell (data units)
INCHES_PER_UNIT = 0.75
_EDGE_KEY = re.compile(r"^(normal|reduce)_n(\d+)_p(\d+)$")


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _math(label: str) -> str:
    """``c_{k-2}`` as mathtext, node numbers as they are."""
    return f"${label}$" if label.startswith("c_") else label


def _color(op: str, index: int) -> str:
    return OP_COLORS.get(op, f"C{index % 10}")


# ---------------------------------------------------------------------------------- search.png


def write_search_png(
    path: Path, recorder: SearchRecorder, title: str, cells: list[Cell] | None = None
) -> None:
    """Loss and accuracy per epoch; with recorded weights, one panel per edge below them:
    rows are a cell's nodes, columns the node's inputs, the normal cell left of the reduction
    cell. With the found ``cells``, each panel names the operation its edge kept (or that the
    edge was not kept)."""
    plt = _pyplot()
    edges = _edges(recorder) if recorder.weight_epochs else {}
    kinds = [kind for kind in CELL_KINDS if any(k == kind for k, _, _ in edges)]
    depths = sorted({depth for _, depth, _ in edges})
    width = max((source + 1 for _, _, source in edges), default=0)
    columns = max(2, width * len(kinds))
    figure = plt.figure(figsize=(max(9.0, 2.3 * columns), 3.8 + 2.4 * len(depths)))
    grid = figure.add_gridspec(
        1 + len(depths), columns, height_ratios=[1.6] + [1.0] * len(depths), hspace=1.0
    )
    half = columns // 2
    _plot_curves(figure.add_subplot(grid[0, :half]), figure.add_subplot(grid[0, half:]), recorder)
    kept_ops = None if cells is None else _kept_ops(cells)
    edge_axes = []
    for (kind, depth, source), key in edges.items():
        column = kinds.index(kind) * width + source
        edge_axes.append(figure.add_subplot(grid[1 + depths.index(depth), column]))
        kept = None if kept_ops is None else kept_ops.get((kind, depth, source))
        _plot_edge(edge_axes[-1], recorder, key, (kind, depth, source), kept, kept_ops is not None)
    figure.suptitle(title)
    figure.subplots_adjust(left=0.06, right=0.98, top=0.9, bottom=0.1 if edges else 0.14)
    if edges:
        _edge_legend(figure, recorder, plt)
        top = max(axis.get_position().y1 for axis in edge_axes)
        figure.text(
            0.5,
            top + 0.065,
            "each edge's softmax weights over its candidates, per epoch",
            ha="center",
            fontsize="large",
        )
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _edge_legend(figure: Any, recorder: SearchRecorder, plt: Any) -> None:
    names = next(iter(recorder.candidates.values()))
    handles = [plt.Line2D([], [], color=_color(name, i), lw=2) for i, name in enumerate(names)]
    labels = list(names)
    if any(row[-1] is not None for rows in recorder.weights.values() for row in rows):
        handles.append(plt.Line2D([], [], color="black", ls=":", lw=1.5))
        labels.append(ZERO_OP)
    figure.legend(handles, labels, loc="lower center", ncol=len(labels), frameon=False)


def _plot_curves(loss_axis: Any, acc_axis: Any, recorder: SearchRecorder) -> None:
    history = recorder.history
    epochs = [record["epoch"] for record in history]
    marker = "o" if len(epochs) < 30 else None
    loss_axis.plot(epochs, [r["train"].get("loss") for r in history], marker=marker, color="k")
    loss_axis.set_title("search: training loss")
    acc_axis.plot(epochs, [r["train"].get("acc") for r in history], marker=marker, label="train")
    acc_axis.plot(
        epochs, [r["valid"].get("acc") for r in history], marker=marker, label="validation"
    )
    acc_axis.set_title("search: accuracy")
    acc_axis.legend(loc="lower right", fontsize="small")
    stage_starts = [
        (record["epoch"] - 0.5, record["stage"])
        for before, record in itertools.pairwise(history)
        if record.get("stage") != before.get("stage")
    ]
    for axis in (loss_axis, acc_axis):
        axis.set_xlabel("epoch")
        axis.grid(alpha=0.3)
        if epochs:
            axis.set_xticks(_ticks(epochs))
        for start, stage in stage_starts:
            axis.axvline(start, color="gray", ls="--", lw=1)
            axis.annotate(
                f" stage {stage + 1}",
                (start, 1.0),
                xycoords=("data", "axes fraction"),
                va="top",
                fontsize="small",
                color="gray",
            )


def _edges(recorder: SearchRecorder) -> dict[tuple[str, int, int], str]:
    found = {}
    for key in recorder.weights:
        match = _EDGE_KEY.match(key)
        if match is not None:
            found[(match.group(1), int(match.group(2)), int(match.group(3)))] = key
    return dict(
        sorted(found.items(), key=lambda item: (CELL_KINDS.index(item[0][0]), *item[0][1:]))
    )


def _kept_ops(cells: list[Cell]) -> dict[tuple[str, int, int], str]:
    """(kind, depth, source) → the operation the found architecture keeps on that edge."""
    return {
        (cell.kind, 2 + node, edge.source): edge.op
        for cell in cells
        for node, edges in enumerate(cell.nodes)
        for edge in edges
    }


def _plot_edge(
    axis: Any,
    recorder: SearchRecorder,
    key: str,
    edge: tuple[str, int, int],
    kept: str | None,
    known: bool,
) -> None:
    from matplotlib.ticker import FormatStrFormatter, MaxNLocator

    epochs = recorder.weight_epochs
    rows = recorder.weights[key]
    names = recorder.candidates[key]
    marker = "o" if len(epochs) <= 6 else None
    for index, name in enumerate(names):
        values = [math.nan if row[index] is None else row[index] for row in rows]
        axis.plot(epochs, values, color=_color(name, index), lw=1.6, marker=marker, ms=3)
    if any(row[-1] is not None for row in rows):
        zero = [math.nan if row[-1] is None else row[-1] for row in rows]
        axis.plot(epochs, zero, color="black", ls=":", lw=1.5, marker=marker, ms=3)
    kind, depth, source = edge
    name = f"{CELL_NAMES[kind]}: {_math(source_label(source))} → node {depth - 2}"
    if not known:
        axis.set_title(name, fontsize="small")
    elif kept is None:
        axis.set_title(f"{name}\nnot kept", fontsize="small", color="gray")
        for spine in axis.spines.values():
            spine.set_color("lightgray")
    else:
        axis.set_title(f"{name}\nkept: {kept}", fontsize="small", color=_color(kept, 0))
        for spine in axis.spines.values():
            spine.set_color(_color(kept, 0))
            spine.set_linewidth(1.6)
    axis.set_xticks(_ticks(epochs))
    axis.tick_params(labelsize="x-small")
    axis.yaxis.set_major_locator(MaxNLocator(4))
    axis.yaxis.set_major_formatter(FormatStrFormatter("%.3f"))
    axis.grid(alpha=0.3)


def _ticks(epochs: list[int]) -> list[int]:
    step = max(1, math.ceil(len(epochs) / 8))
    return epochs[::step]


# ------------------------------------------------------------------------------------ arch.png


def write_arch_png(path: Path, cells: list[Cell], title: str, caption: str) -> None:
    """Each cell as a left-to-right graph: the inputs ``c_{k-2}``, ``c_{k-1}``, the nodes, and
    ``c_{k}`` (the concatenation of the cell's outputs); each kept edge labelled with its
    operation; ``caption`` (one of :data:`nasops.search.genotype.CAPTIONS`) under it."""
    plt = _pyplot()
    n_nodes = max((len(cell.nodes) for cell in cells), default=1)
    cell_inches = INCHES_PER_UNIT * (NODE_SPACING * (n_nodes + 1) + 1.2)
    figure, axes = plt.subplots(
        1, max(1, len(cells)), figsize=(cell_inches * max(1, len(cells)), 4.5), squeeze=False
    )
    axes = list(axes[0])
    for axis, cell in zip(axes, cells, strict=False):
        _draw_cell(axis, cell)
    figure.suptitle(title)
    figure.text(
        0.5,
        0.03,
        caption,
        ha="center",
        color="0.35",
    )
    figure.tight_layout(rect=(0, 0.06, 1, 1))
    figure.savefig(path, dpi=110)
    plt.close(figure)


def _positions(n_nodes: int) -> list[tuple[float, float]]:
    """Where each graph vertex sits: the two inputs on the left, above and below the row of
    nodes, and the output at the row's right end."""
    nodes = [(NODE_SPACING * (j + 1), 0.0) for j in range(n_nodes)]
    return [(0.0, 1.5), (0.0, -1.5), *nodes, (NODE_SPACING * (n_nodes + 1), 0.0)]


def _bend(source: int, target: int) -> float:
    """arc3's ``rad`` for an edge: edges from ``c_{k-2}`` bow upwards, from ``c_{k-1}``
    downwards, so neither crosses the other; an edge that skips nodes of the row bows over
    them."""
    if source < 2:
        return -0.2 if source == 0 else 0.2
    return 0.0 if target - source == 1 else -0.3


def _draw_cell(axis: Any, cell: Cell) -> None:
    n_nodes = len(cell.nodes)
    where = _positions(n_nodes)
    for node, edges in enumerate(cell.nodes):
        # An ENAS node may apply two operations to one vertex: the second bows further out,
        # and the same operation twice is one edge marked "x2".
        drawn: dict[int, list[str]] = {}
        for edge in edges:
            ops = drawn.setdefault(edge.source, [])
            if edge.op in ops:
                continue
            twice = sum(e.source == edge.source and e.op == edge.op for e in edges) > 1
            rad = _bend(edge.source, 2 + node) + 0.35 * len(ops)
            label = f"{edge.op} x2" if twice else edge.op
            _arrow(axis, where[edge.source], where[2 + node], rad, label, _color(edge.op, 0))
            ops.append(edge.op)
    for vertex in cell.outputs:
        rad = 0.0 if vertex == n_nodes + 1 else 0.3
        _arrow(axis, where[vertex], where[-1], rad, None, "silver")
    labels = ["c_{k-2}", "c_{k-1}", *map(str, range(n_nodes)), "c_{k}"]
    fills = ["#cfe8cf", "#cfe8cf", *["#cfe0f5"] * n_nodes, "#f7e3a8"]
    for (x, y), label, fill in zip(where, labels, fills, strict=True):
        axis.text(
            x,
            y,
            _math(label),
            ha="center",
            va="center",
            fontsize=13,
            zorder=3,
            bbox={"boxstyle": "round,pad=0.45", "fc": fill, "ec": "0.3"},
        )
    xs, ys = zip(*where, strict=True)
    axis.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
    axis.set_ylim(min(ys) - 0.6, max(ys) + 0.6)
    axis.set_aspect("equal")
    axis.axis("off")
    axis.set_title(f"{CELL_NAMES[cell.kind]} cell", fontsize=13)


def _arrow(
    axis: Any,
    start: tuple[float, float],
    end: tuple[float, float],
    rad: float,
    label: str | None,
    color: str,
) -> None:
    axis.annotate(
        "",
        xy=end,
        xytext=start,
        zorder=1,
        arrowprops={
            "arrowstyle": "-|>",
            "color": color,
            "lw": 2.0 if label else 1.2,
            "connectionstyle": f"arc3,rad={rad}",
            "shrinkA": 20,
            "shrinkB": 20,
            "ls": "-" if label else "--",
        },
    )
    if label:
        # The middle of matplotlib's arc3 curve (a quadratic Bezier through a control point
        # rad * length off the chord): half of that offset from the chord's middle.
        (x0, y0), (x1, y1) = start, end
        x = (x0 + x1) / 2 + rad * (y1 - y0) / 2
        y = (y0 + y1) / 2 - rad * (x1 - x0) / 2
        if rad == 0:
            y += 0.32  # above a straight edge, which the label would hide
        axis.text(
            x,
            y,
            label,
            ha="center",
            va="center",
            fontsize=9,
            color=color,
            zorder=2,
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": color, "lw": 0.8},
        )
