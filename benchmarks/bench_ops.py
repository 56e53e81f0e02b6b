"""Speed of the fused ``weighted_sum`` against the peers' reductions and COPY/TRIAD (issues 4, 5).

N = 2^24 float32 (64 MiB per tensor: twice the last-level cache of the reference CPU, above
glibc's 32 MiB mmap cap, and above an H100's 50 MB L2), K = 2, 4, 8, forward and
forward+backward under autograd. Every method comes from ``nasops.bench`` (one implementation
of each peer), on inputs allocated once. On CUDA (the default when a GPU is present) the
bandwidth target compares with a device-to-device copy, on the CPU with TRIAD.

    pytest benchmarks --benchmark-only [--nasops-device cpu|cuda] [--nasops-allocator reuse]
    python benchmarks/bench_ops.py [--device cpu|cuda] [--rounds R] [--allocator default|reuse]

The interleaved script is the one to trust on a noisy machine: it times all methods of a case
round-robin, so the ratios compare calls made seconds apart. On the CPU, without
``--allocator`` it runs once per allocator regime (each in its own process, as glibc settings
are process-wide): the speed-up targets were set under the default regime, the TRIAD target
under ``reuse``, where the op's output allocation costs no page faults
(``nasops/bench/allocator.py``). CUDA's caching allocator has no such regimes.
"""

import argparse
import subprocess
import sys

import pytest
import torch

from nasops.bench import allocator, baselines, targets
from nasops.bench.sweep import MODES, ROWS, Case, SweepConfig, measure_case, methods
from nasops.bench.timing import synchronizer, warm_up

N = 1 << targets.N_LOG2
METHODS = ("nasops", "nasops_out", "python_sum", "stack_sum", "stock")
ROUNDS = 5


def default_device() -> str:
    return "cuda" if torch.cuda.is_available() else "cpu"


def make_inputs(device: str, n: int = N) -> list[torch.Tensor]:
    generator = torch.Generator(device=device).manual_seed(0)
    shape = (ROWS, n // ROWS)
    return [torch.randn(shape, generator=generator, device=device) for _ in range(max(targets.KS))]


def _weights(k: int, device: str) -> torch.Tensor:
    w = torch.randn(k, generator=torch.Generator().manual_seed(k))
    return torch.softmax(w, 0).to(device)


def _synchronized(call, device: str):
    """``call`` followed by a wait for the device: pytest-benchmark reads a host clock."""
    sync = synchronizer(device)

    def run() -> None:
        call()
        sync()

    return run


@pytest.fixture(scope="module")
def device(request: pytest.FixtureRequest) -> str:
    return request.config.getoption("--nasops-device") or default_device()


@pytest.fixture(scope="module")
def inputs(device: str) -> list[torch.Tensor]:
    return make_inputs(device)


@pytest.fixture(scope="module")
def buffers(device: str) -> baselines.Buffers:
    return baselines.Buffers(N, torch.float32, device)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", targets.KS)
@pytest.mark.parametrize("method", METHODS)
def test_weighted_sum(benchmark, device, inputs, medians, method: str, k: int, mode: str) -> None:
    case = Case("sum", mode, "float32", k, targets.N_LOG2)
    calls = {m.name: m.call for m in methods(case, inputs[:k], _weights(k, device))}
    if method not in calls:
        pytest.skip(f"{method} has no {mode} variant")
    call = calls[method]
    benchmark.group = f"weighted_sum {mode} K={k} N=2^{targets.N_LOG2} float32 {device}"
    benchmark.extra_info.update(useful_bytes=case.useful_bytes(), method=method)
    benchmark.pedantic(_synchronized(call, device), rounds=ROUNDS, warmup_rounds=1, iterations=1)
    medians.setdefault((mode, k), {})[method] = benchmark.stats.stats.median


@pytest.mark.parametrize("baseline", [b.name for b in baselines.BASELINES])
def test_bandwidth_baseline(benchmark, device, buffers, medians, baseline: str) -> None:
    useful = next(b for b in baselines.BASELINES if b.name == baseline)
    benchmark.group = f"bandwidth baselines N=2^{targets.N_LOG2} float32 {device}"
    benchmark.extra_info.update(useful_bytes=useful.useful_bytes(N, 4))
    call = _synchronized(buffers.calls()[baseline], device)
    benchmark.pedantic(call, rounds=4 * ROUNDS, warmup_rounds=1)
    medians.setdefault("baseline_gbs", {})[baseline] = (
        useful.useful_bytes(N, 4) / benchmark.stats.stats.median / 1e9
    )
    medians["device_type"] = torch.device(device).type


def interleaved(
    rounds: int, device: str, log2n: int = targets.N_LOG2
) -> dict[tuple[str, int], targets.Measured]:
    """Each (mode, K) case timed with all its methods round-robin (``nasops bench``'s timer)."""
    config = SweepConfig(
        min_reps=rounds, max_reps=rounds, case_budget_s=0.0, memory=False, device=device
    )
    xs = make_inputs(device, 1 << log2n)
    buffers = baselines.Buffers(1 << log2n, torch.float32, device)
    baseline = targets.BANDWIDTH_BASELINE[torch.device(device).type].name
    measured = {}
    for k in targets.KS:
        for mode in MODES:
            case = Case("sum", mode, "float32", k, log2n)
            w = _weights(k, device)
            rows = {r["method"]: r for r in measure_case(case, xs[:k], w, buffers, config)}
            measured[(mode, k)] = targets.Measured(
                rows["nasops"]["median_ms"] / 1e3,
                rows["python_sum"]["median_ms"] / 1e3,
                case.useful_bytes(),
                rows[baseline]["useful_gbs"],
                rows["nasops_out"]["median_ms"] / 1e3 if "nasops_out" in rows else None,
            )
            print(
                f"{mode} K={k}: "
                + ", ".join(f"{name} {row['median_ms']:.3g} ms" for name, row in rows.items()),
                flush=True,
            )
    return measured


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per case")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument(
        "--log2n",
        type=int,
        default=targets.N_LOG2,
        help=f"elements per input, log2 (default {targets.N_LOG2}, where the targets are set)",
    )
    parser.add_argument(
        "--device",
        choices=["cpu", "cuda"],
        default=default_device(),
        help="where to run (default: cuda when a GPU is present)",
    )
    parser.add_argument(
        "--allocator",
        choices=allocator.REGIMES,
        default=None,
        help="CPU only: one allocator regime (default: each regime in its own process)",
    )
    args = parser.parse_args(argv)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            parser.error("--device cuda asked for, but torch sees no CUDA device")
        return run(args, "caching")
    if args.allocator is None:
        rest = list(argv if argv is not None else sys.argv[1:])
        for regime in allocator.REGIMES:
            subprocess.run([sys.executable, __file__, *rest, "--allocator", regime], check=True)
        print(
            "\nRead the TRIAD target under 'reuse' (no page faults for the output: the kernel's "
            "bandwidth) and the speed-up targets under 'default' (where they were set)."
        )
        return 0
    allocator.set_regime(args.allocator)
    return run(args, args.allocator)


def run(args: argparse.Namespace, regime: str) -> int:
    """Measure on ``args.device`` and print the targets table."""
    import nasops

    if args.threads:
        torch.set_num_threads(args.threads)
    ext = nasops.extension_info()
    where = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    print(
        f"\n== N=2^{args.log2n}, {where}, allocator {regime}: torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, nasops kernels {ext['kernels'][args.device]}"
        + (f" ({ext['reason']})" if ext["reason"] else ""),
        flush=True,
    )
    warm_up(args.device)
    measured = interleaved(args.rounds, args.device, args.log2n)
    print(targets.targets_table(measured, torch.device(args.device).type), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
