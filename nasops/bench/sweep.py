"""The ops level: the fused reductions against the peers, the stock-op composition and the
COPY/TRIAD baselines, over reductions × K × N × dtype × {forward, forward+backward}.

Every case times all its methods in one interleaved run (``timing.py``), so the speed-ups and
the ratios to TRIAD compare calls made within seconds of each other. Inputs are allocated once
per (dtype, N) for the largest K and sliced for smaller K; a method allocates only what it
allocates in real use (its outputs, temporaries and gradients), and that allocation is part of
its time, as it is in training.

Useful bytes (what an ideal one-pass kernel must move; write-allocate reads not counted, as
for STREAM):

- forward, sum/mean: ``(K+1)·N·itemsize`` (read K inputs, write one output);
- forward, concat: ``2·K·N·itemsize`` (read K inputs, write K·N outputs);
- forward+backward adds the backward with the weight gradient: sum/mean read ``g`` and the K
  inputs and write K input gradients, ``(2K+1)·N·itemsize`` (total ``(3K+2)·N·itemsize``);
  concat reads ``g`` (K·N) and the inputs and writes the gradients, ``3·K·N·itemsize``
  (total ``5·K·N·itemsize``). The K weight gradients are scalars and not counted.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import Any

import torch

from nasops import ops
from nasops.bench import baselines, memory, peers, stock
from nasops.bench.progress import progress_bar
from nasops.bench.timing import interleaved_medians, synchronizer, warm_up

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
MODES = ("forward", "forward+backward")
REDUCTIONS = ("sum", "mean", "concat")
ROWS = 8  # inputs are (ROWS, N/ROWS): a batch of rows, so concat along dim 1 is a real gather
# glibc serves blocks above its dynamic mmap threshold (at most 32 MiB on 64-bit) with fresh,
# page-faulted mmap memory; tensors at or above this size are always mmapped.
MMAP_THRESHOLD_MAX = 32 << 20


@dataclass(frozen=True)
class SweepConfig:
    """What the ops level measures, and how long it may spend per case."""

    reductions: tuple[str, ...] = REDUCTIONS
    ks: tuple[int, ...] = (1, 2, 4, 8, 16)
    n_log2: tuple[int, ...] = (12, 14, 16, 18, 20, 22, 23, 24, 25)
    dtypes: tuple[str, ...] = ("float32", "bfloat16")
    modes: tuple[str, ...] = MODES
    device: str = "cpu"
    min_reps: int = 5
    max_reps: int = 15
    case_budget_s: float = 0.5  # timing budget per case beyond the first round
    memory: bool = True
    # Cases with more input elements (K·N) are left out: at K=16, N=2^25 one forward+backward
    # of a peer takes seconds, and the full grid would take an hour on 2 cores.
    max_case_elements: int = 1 << 27

    def ks_for(self, n_log2: int) -> tuple[int, ...]:
        """The K measured at N = 2^n_log2."""
        return tuple(k for k in self.ks if k << n_log2 <= self.max_case_elements)

    @property
    def cases(self) -> int:
        per_n = sum(len(self.ks_for(n)) for n in self.n_log2)
        return len(self.reductions) * per_n * len(self.dtypes) * len(self.modes)


FULL = SweepConfig(min_reps=3)
# 2^23: 32 MiB float32 tensors, above glibc's mmap cap and (K+1)× the 32 MiB LLC of the
# reference VM; 2^24 would double the run time past the 90 s quick budget on 2 cores.
QUICK = SweepConfig(
    ks=(2, 4, 8), n_log2=(12, 23), dtypes=("float32",), min_reps=3, max_reps=9, case_budget_s=0.2
)

FUSED: dict[str, peers.Reduction] = {
    "sum": ops.weighted_sum,
    "mean": ops.weighted_mean,
    "concat": lambda xs, w: ops.weighted_concat(xs, w, 1),
}
FUSED_LABEL = {
    "sum": "nasops.ops.weighted_sum",
    "mean": "nasops.ops.weighted_mean",
    "concat": "nasops.ops.weighted_concat",
}


@dataclass(frozen=True)
class Case:
    reduction: str
    mode: str
    dtype: str
    k: int
    n_log2: int

    @property
    def n(self) -> int:
        return 1 << self.n_log2

    @property
    def itemsize(self) -> int:
        return torch.empty((), dtype=DTYPES[self.dtype]).element_size()

    def useful_bytes(self) -> int:
        k, n = self.k, self.n
        if self.reduction == "concat":
            fwd, bwd = 2 * k * n, 3 * k * n
        else:
            fwd, bwd = (k + 1) * n, (2 * k + 1) * n
        return self.itemsize * (fwd + (bwd if self.mode == "forward+backward" else 0))


@dataclass(frozen=True)
class Method:
    name: str
    kind: str  # "fused", "peer", "stock" or "baseline"
    label: str
    used_by: str
    call: Callable[[], object]


def _autograd_call(fn: peers.Reduction, xs: list, w: torch.Tensor, grad: torch.Tensor):
    inputs = [*xs, w]

    def call() -> None:
        # Gradients are returned and dropped, not accumulated into .grad: every method
        # allocates its gradients afresh, as a training step does after zero_grad(None).
        torch.autograd.grad(fn(xs, w), inputs, grad)

    return call


def methods(case: Case, xs: list[torch.Tensor], w: torch.Tensor) -> list[Method]:
    """The fused op, its peers and the stock composition for ``case``, ready to call."""
    candidates = [
        (("nasops", "fused", FUSED_LABEL[case.reduction], "nasops"), FUSED[case.reduction]),
        *(((p.name, "peer", p.label, p.used_by), p.fn) for p in peers.PEERS[case.reduction]),
    ]
    stock_id = ("stock", "stock", "torch.mul(x0, w0, out=buf) + buf.add_(x_i, alpha=w_i)", "-")
    if case.reduction == "concat":
        stock_id = ("stock", "stock", "torch.mul(x_i, w_i, out=buf_piece_i)", "-")
    if case.mode == "forward":
        built = [Method(*ident, call=_bind(fn, xs, w)) for ident, fn in candidates]
        out_label = f"{FUSED_LABEL[case.reduction]}(..., out=buf)"
        into_buffer = Method("nasops_out", "fused", out_label, "nasops", _out_call(case, xs, w))
        return [*built, into_buffer, Method(*stock_id, call=stock.forward(case.reduction, xs, w))]
    xs_g = [x.detach().requires_grad_() for x in xs]
    w_g = w.detach().clone().requires_grad_()
    with torch.no_grad():
        grad = torch.randn_like(FUSED[case.reduction](xs, w))
    built = [Method(*ident, call=_autograd_call(fn, xs_g, w_g, grad)) for ident, fn in candidates]
    stock_call = stock.forward_backward(case.reduction, xs, w, grad)
    return [*built, Method(*stock_id, call=stock_call)]


def _out_call(case: Case, xs: list, w: torch.Tensor) -> Callable[[], torch.Tensor]:
    """The fused forward into a buffer allocated once, outside the timed call: the kernel's own
    speed, comparable with TRIAD (also timed into a pre-allocated buffer)."""
    out = FUSED[case.reduction](xs, w)
    if case.reduction == "concat":
        return lambda: ops.weighted_concat(xs, w, 1, out=out)
    fn = ops.weighted_sum if case.reduction == "sum" else ops.weighted_mean
    return lambda: fn(xs, w, out=out)


def _bind(fn: peers.Reduction, xs: list, w: torch.Tensor) -> Callable[[], torch.Tensor]:
    return lambda: fn(xs, w)


def _baseline_methods(buffers: baselines.Buffers) -> list[Method]:
    calls = buffers.calls()
    return [Method(b.name, "baseline", b.label, "-", calls[b.name]) for b in baselines.BASELINES]


def measure_case(
    case: Case,
    xs: list[torch.Tensor],
    w: torch.Tensor,
    buffers: baselines.Buffers,
    config: SweepConfig,
) -> list[dict[str, Any]]:
    """Time (and, if asked, weigh) every method of ``case`` in one interleaved run."""
    todo = [*methods(case, xs, w), *_baseline_methods(buffers)]
    peaks = {}
    for method in todo:  # the warm-up call; weighed when memory is measured
        if config.memory:
            peaks[method.name] = memory.peak_bytes(method.call, config.device)
        else:
            method.call()
    timings = interleaved_medians(
        {m.name: m.call for m in todo},
        min_reps=config.min_reps,
        max_reps=config.max_reps,
        budget_s=config.case_budget_s,
        sync=synchronizer(config.device),
    )
    tensor_bytes = case.n * case.itemsize
    t_fused = timings["nasops"].median_s
    baseline_gbs = {
        b.name: b.useful_bytes(case.n, case.itemsize) / timings[b.name].median_s
        for b in baselines.BASELINES
    }
    rows = []
    for method in todo:
        timing = timings[method.name]
        if method.kind == "baseline":
            useful = next(b for b in baselines.BASELINES if b.name == method.name)
            nbytes = useful.useful_bytes(case.n, case.itemsize)
        else:
            nbytes = case.useful_bytes()
        gbs = nbytes / timing.median_s
        peak = peaks.get(method.name)
        rows.append(
            {
                "reduction": case.reduction,
                "mode": case.mode,
                "dtype": case.dtype,
                "k": case.k,
                "n": case.n,
                "n_log2": case.n_log2,
                "tensor_bytes": tensor_bytes,
                "mmapped_under_default_glibc": tensor_bytes >= MMAP_THRESHOLD_MAX,
                "method": method.name,
                "kind": method.kind,
                "label": method.label,
                "used_by": method.used_by,
                "median_ms": timing.median_s * 1e3,
                "min_ms": timing.min_s * 1e3,
                "max_ms": timing.max_s * 1e3,
                "samples": timing.samples,
                "calls_per_sample": timing.calls_per_sample,
                "useful_bytes": nbytes,
                "useful_gbs": gbs / 1e9,
                "ratio_to_triad": gbs / baseline_gbs[baselines.TRIAD.name],
                "ratio_to_copy": gbs / baseline_gbs[baselines.COPY.name],
                # How many times faster the fused op ran than this method, in this run.
                "fused_speedup": (None if method.kind == "baseline" else timing.median_s / t_fused),
                "peak_bytes": peak,
                "peak_tensors": None if peak is None else peak / tensor_bytes,
            }
        )
    return rows


def _cases(config: SweepConfig, dtype: str, n_log2: int) -> Iterable[Case]:
    for reduction in config.reductions:
        for k in config.ks_for(n_log2):
            for mode in config.modes:
                yield Case(reduction, mode, dtype, k, n_log2)


def run(config: SweepConfig, progress: bool = True) -> list[dict[str, Any]]:
    """Measure every case of ``config``; one row per (case, method)."""
    bar = progress_bar(config.cases, progress, "nasops bench ops", "case")
    rows: list[dict[str, Any]] = []
    generator = torch.Generator(device=config.device).manual_seed(0)
    warm_up(config.device)
    try:
        for dtype in config.dtypes:
            for n_log2 in config.n_log2:
                n, torch_dtype = 1 << n_log2, DTYPES[dtype]
                shape = (ROWS, n // ROWS) if n >= ROWS else (1, n)
                make = dict(dtype=torch_dtype, device=config.device, generator=generator)
                ks = config.ks_for(n_log2)
                if not ks:
                    continue
                inputs = [torch.randn(shape, **make) for _ in range(max(ks))]
                buffers = baselines.Buffers(n, torch_dtype, config.device)
                for case in _cases(config, dtype, n_log2):
                    bar.set_postfix_str(
                        f"{case.reduction} {case.mode} {dtype} K={case.k} N=2^{n_log2}"
                    )
                    w = torch.softmax(torch.randn(case.k, **make), 0)
                    rows.extend(measure_case(case, inputs[: case.k], w, buffers, config))
                    bar.update()
                del inputs, buffers  # free before the next, larger N is allocated
    finally:
        bar.close()
    return rows


def with_sizes(config: SweepConfig, n_log2: tuple[int, ...] | None) -> SweepConfig:
    return config if n_log2 is None else replace(config, n_log2=n_log2)
