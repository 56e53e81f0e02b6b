"""``supernet.png``: the supernet level's paths side by side, the DARTS step's median time (with
its min-max range) and its peak memory, each against NNI's path.

matplotlib is imported here only (Agg backend), so ``import nasops`` never needs it.
"""

from pathlib import Path
from typing import Any

NNI_PATH = "nni_path"
COLORS = {NNI_PATH: "tab:blue"}
OURS = "tab:red"


def write_png(path: Path, rows: list[dict[str, Any]], title: str) -> None:
    """Draw ``rows`` (the supernet level's, one per path) to ``path``: a panel of median step
    milliseconds and one of peak MiB (left out when no peak was measured)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = list(reversed(rows))  # the first path on top
    names = [row["path"] for row in rows]
    peaks = [row["peak_mib"] for row in rows]
    panels = 2 if all(p is not None for p in peaks) else 1
    fig, axes = plt.subplots(1, panels, figsize=(5.2 * panels, 0.5 * len(rows) + 1.6))
    axes = axes if panels == 2 else [axes]
    colors = [COLORS.get(name, OURS) for name in names]
    nni = next(row for row in rows if row["path"] == NNI_PATH)

    medians = [row["median_ms"] for row in rows]
    spread = [
        [row["median_ms"] - row["min_ms"] for row in rows],
        [row["max_ms"] - row["median_ms"] for row in rows],
    ]
    ax = axes[0]
    ax.barh(names, medians, xerr=spread, color=colors, capsize=3)
    ax.axvline(nni["median_ms"], color="black", ls="--", lw=0.8)
    for y, row in enumerate(rows):
        ax.text(row["max_ms"], y, f"  {row['speedup_vs_nni_path']:.2f}x", va="center", fontsize=8)
    ax.set_xlabel("median ms per search step (bar: min-max)")
    ax.set_title("step time; label: speed-up over NNI's path", fontsize=9)
    ax.set_xlim(0, max(row["max_ms"] for row in rows) * 1.25)
    if panels == 2:
        ax = axes[1]
        ax.barh(names, peaks, color=colors)
        ax.axvline(nni["peak_mib"], color="black", ls="--", lw=0.8)
        for y, peak in enumerate(peaks):
            ax.text(peak, y, f"  {peak / nni['peak_mib']:.2f}x", va="center", fontsize=8)
        ax.set_xlabel("peak MiB of one step")
        ax.set_title("peak memory; label: fraction of NNI's path's", fontsize=9)
        ax.set_xlim(0, max(peaks) * 1.25)
        ax.set_yticklabels([])
    for ax in axes:
        ax.grid(True, axis="x", alpha=0.3)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
