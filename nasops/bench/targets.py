"""The speed targets of the fused ops (issue 4), checked by ``benchmarks/``, never by tests.

Measured at N = 2^24 float32 on CPU with every buffer pre-allocated; each figure is a ratio
within one run (this machine's bandwidth drifts too much for absolute targets).
"""

from collections.abc import Mapping
from dataclasses import dataclass

from nasops.bench import report

N_LOG2 = 24
KS = (2, 4, 8)


@dataclass(frozen=True)
class Target:
    what: str
    mode: str
    measure: str  # "ratio_to_triad" of the fused op, or "speedup" over python_sum
    minimum: Mapping[int, float]


TARGETS = (
    Target("forward useful GB/s ÷ TRIAD", "forward", "ratio_to_triad", {2: 1.0, 4: 1.0, 8: 1.0}),
    Target("forward speed-up over sum(w_i*x_i)", "forward", "speedup", {2: 3.5, 4: 5.0, 8: 8.0}),
    Target(
        "forward+backward (autograd) speed-up over sum(w_i*x_i)",
        "forward+backward",
        "speedup",
        {2: 2.5, 4: 2.8, 8: 3.0},
    ),
)


@dataclass(frozen=True)
class Measured:
    """The medians a target needs for one (mode, K): seconds per call and TRIAD's GB/s."""

    fused_s: float
    python_sum_s: float
    fused_useful_bytes: int
    triad_gbs: float


def value(target: Target, measured: Measured) -> float:
    if target.measure == "ratio_to_triad":
        return measured.fused_useful_bytes / measured.fused_s / 1e9 / measured.triad_gbs
    return measured.python_sum_s / measured.fused_s


def targets_table(measured: Mapping[tuple[str, int], Measured]) -> str:
    """Markdown table: each target, each K: the measured value, the minimum, met or not."""
    lines = []
    for target in TARGETS:
        cells = []
        for k in KS:
            m = measured.get((target.mode, k))
            if m is None:
                cells.append("not measured")
                continue
            v, floor = value(target, m), target.minimum[k]
            cells.append(f"{v:.2f} (≥ {floor:g}) {'met' if v >= floor else 'NOT MET'}")
        lines.append([target.what, *cells])
    return report.table(["target", *[f"K={k}" for k in KS]], lines)
