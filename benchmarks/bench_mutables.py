"""Mutable overhead: nasops' decision path vs NNI v1's reduction path, same model and masks.

Run: ``PYTHONPATH=. python -m pytest benchmarks/bench_mutables.py --benchmark-group-by=group``.
Targets (checked by ``test_summary``, printed as a table): a hard-mask choice costs ≤ 5 µs over
calling the chosen module directly, ≥ 2x less than NNI's path, and the DARTS cell step is
faster than NNI's path. The measurement code lives in ``nasops.bench.mutables``.
"""

import platform

import pytest
import torch

from nasops import extension_info
from nasops.bench import mutables as bench


@pytest.mark.parametrize("path", list(bench.PATHS))
def test_layer_choice_call(benchmark, path: str) -> None:
    benchmark.group = "LayerChoice call (hard mask)"
    with torch.no_grad():
        benchmark(bench.layer_choice_case(path))


@pytest.mark.parametrize("path", list(bench.PATHS))
def test_input_choice_call(benchmark, path: str) -> None:
    benchmark.group = "InputChoice call (hard mask, 2 of 4)"
    with torch.no_grad():
        benchmark(bench.input_choice_case(path))


@pytest.mark.parametrize("path", ["nasops", "nni_path"])
def test_darts_cell_step(benchmark, path: str) -> None:
    benchmark.group = "DARTS cell reset+forward+backward"
    benchmark(bench.darts_cell_case(path))


def test_summary() -> None:
    """Medians measured in one run, so the ratios compare like with like."""
    rows = {
        "LayerChoice": bench.layer_choice_overhead(),
        "InputChoice": bench.input_choice_overhead(),
    }
    darts = bench.darts_cell_step()
    print(
        f"\n{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"backend {extension_info()}"
    )
    print("| choice | direct µs | nasops overhead µs | NNI-path overhead µs | ratio |")
    print("|---|---|---|---|---|")
    for name, r in rows.items():
        print(
            f"| {name} | {r['direct_us']:.2f} | {r['nasops_overhead_us']:.2f} | "
            f"{r['nni_path_overhead_us']:.2f} | {r['overhead_ratio']:.1f}x |"
        )
    print(
        f"| DARTS cell step | nasops {darts['nasops_us']:.0f} µs | NNI path "
        f"{darts['nni_path_us']:.0f} µs | speed-up {darts['speedup']:.2f}x | |"
    )
    for name, r in rows.items():
        assert r["nasops_overhead_us"] <= 5.0, (name, r)
        assert r["overhead_ratio"] >= 2.0, (name, r)
    assert darts["speedup"] > 1.0, darts
