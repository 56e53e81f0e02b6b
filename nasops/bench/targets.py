"""The speed targets of the fused ops (issues 4 and 5), checked by ``benchmarks/``, never by tests.

Measured at N = 2^24 float32 with the inputs allocated once; each figure is a ratio within one
run (a shared machine's bandwidth drifts too much for absolute targets). The speed-ups time the
op as users call it, allocating its output. The bandwidth target times it with ``out=`` into a
buffer allocated once, as the baseline is timed: on the CPU against STREAM TRIAD, on CUDA
against a device-to-device copy.
"""

from collections.abc import Mapping
from dataclasses import dataclass

from nasops.bench import baselines, report

N_LOG2 = 24
KS = (2, 4, 8)


@dataclass(frozen=True)
class Target:
    what: str
    mode: str
    # "bandwidth": the fused op's useful GB/s ÷ the baseline's; "speedup": over python_sum
    measure: str
    minimum: Mapping[int, float]


def _each_k(value: float) -> dict[int, float]:
    return dict.fromkeys(KS, value)


# The bandwidth each device type's targets compare the fused op with.
BANDWIDTH_BASELINE = {"cpu": baselines.TRIAD, "cuda": baselines.COPY}

TARGETS: dict[str, tuple[Target, ...]] = {
    "cpu": (
        Target("forward (out=) useful GB/s ÷ TRIAD", "forward", "bandwidth", _each_k(1.0)),
        Target("forward speed-up over sum(w_i*x_i)", "forward", "speedup", {2: 3.5, 4: 5, 8: 8}),
        Target(
            "forward+backward (autograd) speed-up over sum(w_i*x_i)",
            "forward+backward",
            "speedup",
            {2: 2.5, 4: 2.8, 8: 3.0},
        ),
    ),
    "cuda": (
        Target("forward (out=) useful GB/s ÷ device copy", "forward", "bandwidth", _each_k(0.85)),
        Target("forward speed-up over sum(w_i*x_i)", "forward", "speedup", _each_k(2.0)),
        Target(
            "forward+backward (autograd) speed-up over sum(w_i*x_i)",
            "forward+backward",
            "speedup",
            _each_k(2.0),
        ),
    ),
}


@dataclass(frozen=True)
class Measured:
    """The medians a target needs for one (mode, K): seconds per call and the baseline's GB/s."""

    fused_s: float
    python_sum_s: float
    fused_useful_bytes: int
    baseline_gbs: float
    fused_out_s: float | None = None  # the op with out=, when measured


def value(target: Target, measured: Measured) -> float:
    if target.measure == "bandwidth":
        seconds = measured.fused_out_s or measured.fused_s
        return measured.fused_useful_bytes / seconds / 1e9 / measured.baseline_gbs
    return measured.python_sum_s / measured.fused_s


def targets_table(measured: Mapping[tuple[str, int], Measured], device_type: str = "cpu") -> str:
    """Markdown table: each target of ``device_type`` and K: the value, the minimum, met or not."""
    lines = []
    for target in TARGETS[device_type]:
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
