"""``bench.png``: useful GB/s against N per method with the TRIAD line, one panel per K, and the
fused op's speed-up over the main peer; one row of panels per mode (sum, float32 by default).

matplotlib is imported here only (Agg backend), so ``import nasops`` never needs it.
"""

from pathlib import Path
from typing import Any

STYLE = {
    "nasops": {"color": "tab:red", "lw": 2.2, "marker": "o"},
    "nasops_out": {"color": "tab:red", "ls": "--", "marker": "o", "mfc": "none"},
    "python_sum": {"color": "tab:blue", "marker": "s"},
    "stack_sum": {"color": "tab:orange", "marker": "^"},
    "nni3_loop": {"color": "tab:green", "marker": "v"},
    "python_mean": {"color": "tab:blue", "marker": "s"},
    "python_cat": {"color": "tab:blue", "marker": "s"},
    "stock": {"color": "tab:purple", "marker": "D"},
    "copy": {"color": "grey", "ls": ":", "marker": "."},
    "triad": {"color": "black", "ls": "--", "marker": "_"},
}
MAIN_PEER = {"sum": "python_sum", "mean": "python_mean", "concat": "python_cat"}


def write_png(path: Path, rows: list[dict[str, Any]], title: str, reduction: str = "sum") -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    dtype = "float32" if any(r["dtype"] == "float32" for r in rows) else rows[0]["dtype"]
    rows = [r for r in rows if r["reduction"] == reduction and r["dtype"] == dtype]
    modes = [m for m in ("forward", "forward+backward") if any(r["mode"] == m for r in rows)]
    ks = sorted({r["k"] for r in rows})
    sizes = sorted({r["n_log2"] for r in rows})
    fig, axes = plt.subplots(
        len(modes), len(ks) + 1, figsize=(3.4 * (len(ks) + 1), 3.2 * len(modes)), squeeze=False
    )
    for i, mode in enumerate(modes):
        for j, k in enumerate(ks):
            ax = axes[i][j]
            case_rows = [r for r in rows if r["mode"] == mode and r["k"] == k]
            for method in dict.fromkeys(r["method"] for r in case_rows):
                points = sorted(
                    (r["n_log2"], r["useful_gbs"]) for r in case_rows if r["method"] == method
                )
                xs, ys = zip(*points, strict=True)
                label = "TRIAD" if method == "triad" else method
                ax.plot(xs, ys, label=label, **STYLE.get(method, {}))
            ax.set_yscale("log")
            _n_ticks(ax, sizes)
            ax.set_title(f"{mode}, K={k}", fontsize=9)
            ax.set_xlabel("log2 N")
            if j == 0:
                ax.set_ylabel("useful GB/s")
            ax.grid(True, which="both", alpha=0.3)
        ax = axes[i][len(ks)]
        peer = MAIN_PEER[reduction]
        for k in ks:
            points = sorted(
                (r["n_log2"], r["fused_speedup"])
                for r in rows
                if r["mode"] == mode and r["k"] == k and r["method"] == peer
            )
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=f"K={k}")
        ax.axhline(1.0, color="black", lw=0.8)
        _n_ticks(ax, sizes)
        ax.set_title(f"{mode}: speed-up over {peer}", fontsize=9)
        ax.set_xlabel("log2 N")
        ax.legend(fontsize=7)
        ax.grid(True, alpha=0.3)
    axes[0][0].legend(fontsize=7)
    fig.suptitle(f"{title}\n{reduction}, {dtype}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _n_ticks(ax: Any, sizes: list[int]) -> None:
    """One tick per measured N; 22, 23, 24, 25 sit close, so small and upright."""
    ax.set_xticks(sizes, [str(s) for s in sizes])
    ax.tick_params(axis="x", labelsize=7, labelrotation=90)
