"""Speed of the fused ``weighted_sum`` against the peers' reductions and COPY/TRIAD (issue 4).

N = 2^24 float32 (64 MiB per tensor: twice the last-level cache here, above glibc's 32 MiB
mmap cap), K = 2, 4, 8, forward and forward+backward under autograd. Every method comes from
``nasops.bench`` (one implementation of each peer), on inputs allocated once.

    pytest benchmarks --benchmark-only [--nasops-allocator reuse]
    python benchmarks/bench_ops.py [--rounds R] [--allocator default|reuse]

The interleaved script is the one to trust on a noisy machine: it times all methods of a case
round-robin, so the ratios compare calls made seconds apart. Without ``--allocator`` it runs
once per allocator regime (each in its own process, as glibc settings are process-wide):
the speed-up targets were set under the default regime, the TRIAD target under ``reuse``,
where the op's output allocation costs no page faults (``nasops/bench/allocator.py``).
"""

import argparse
import subprocess
import sys

import pytest
import torch

from nasops.bench import allocator, baselines, targets
from nasops.bench.sweep import MODES, ROWS, Case, SweepConfig, measure_case, methods

N = 1 << targets.N_LOG2
METHODS = ("nasops", "python_sum", "stack_sum", "stock")
ROUNDS = 5


@pytest.fixture(scope="module")
def inputs() -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return [torch.randn(ROWS, N // ROWS, generator=generator) for _ in range(max(targets.KS))]


@pytest.fixture(scope="module")
def buffers() -> baselines.Buffers:
    return baselines.Buffers(N, torch.float32, "cpu")


def _weights(k: int) -> torch.Tensor:
    return torch.softmax(torch.randn(k, generator=torch.Generator().manual_seed(k)), 0)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", targets.KS)
@pytest.mark.parametrize("method", METHODS)
def test_weighted_sum(benchmark, inputs, medians, method: str, k: int, mode: str) -> None:
    case = Case("sum", mode, "float32", k, targets.N_LOG2)
    call = {m.name: m.call for m in methods(case, inputs[:k], _weights(k))}[method]
    benchmark.group = f"weighted_sum {mode} K={k} N=2^{targets.N_LOG2} float32"
    benchmark.extra_info.update(useful_bytes=case.useful_bytes(), method=method)
    benchmark.pedantic(call, rounds=ROUNDS, warmup_rounds=1, iterations=1)
    medians.setdefault((mode, k), {})[method] = benchmark.stats.stats.median


@pytest.mark.parametrize("baseline", [b.name for b in baselines.BASELINES])
def test_bandwidth_baseline(benchmark, buffers, medians, baseline: str) -> None:
    useful = next(b for b in baselines.BASELINES if b.name == baseline)
    benchmark.group = f"bandwidth baselines N=2^{targets.N_LOG2} float32"
    benchmark.extra_info.update(useful_bytes=useful.useful_bytes(N, 4))
    benchmark.pedantic(buffers.calls()[baseline], rounds=4 * ROUNDS, warmup_rounds=1)
    if baseline == baselines.TRIAD.name:
        medians["triad_gbs"] = useful.useful_bytes(N, 4) / benchmark.stats.stats.median / 1e9


def interleaved(rounds: int) -> dict[tuple[str, int], targets.Measured]:
    """Each (mode, K) case timed with all its methods round-robin (``nasops bench``'s timer)."""
    config = SweepConfig(min_reps=rounds, max_reps=rounds, case_budget_s=0.0, memory=False)
    generator = torch.Generator().manual_seed(0)
    xs = [torch.randn(ROWS, N // ROWS, generator=generator) for _ in range(max(targets.KS))]
    buffers = baselines.Buffers(N, torch.float32, "cpu")
    measured = {}
    for k in targets.KS:
        for mode in MODES:
            case = Case("sum", mode, "float32", k, targets.N_LOG2)
            rows = {
                r["method"]: r for r in measure_case(case, xs[:k], _weights(k), buffers, config)
            }
            measured[(mode, k)] = targets.Measured(
                rows["nasops"]["median_ms"] / 1e3,
                rows["python_sum"]["median_ms"] / 1e3,
                case.useful_bytes(),
                rows["triad"]["useful_gbs"],
            )
            print(
                f"{mode} K={k}: "
                + ", ".join(f"{name} {row['median_ms']:.1f} ms" for name, row in rows.items()),
                flush=True,
            )
    return measured


def main(argv: list[str] | None = None) -> int:
    import nasops

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds per case")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument(
        "--allocator",
        choices=allocator.REGIMES,
        default=None,
        help="one allocator regime (default: each regime in its own process)",
    )
    args = parser.parse_args(argv)
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
    if args.threads:
        torch.set_num_threads(args.threads)
    ext = nasops.extension_info()
    print(
        f"\n== allocator {args.allocator}: torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, nasops backend {ext['backend']}"
        + (f" ({ext['reason']})" if ext["reason"] else ""),
        flush=True,
    )
    print(targets.targets_table(interleaved(args.rounds)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
