"""Mutable overhead: nasops' decision path vs NNI v1's reduction path, same model and masks.

Run: ``PYTHONPATH=. python -m pytest benchmarks/bench_mutables.py --benchmark-group-by=group``.
Targets (checked by ``test_summary``, printed as a table): a hard 1-of-n choice costs ≤ 5 µs
over calling the chosen module directly, ≥ 2x less than NNI's path, and the step of a cell
with DARTS' first-cell shape is faster than NNI's path. The measurement code lives in
``nasops.bench.mutables``.
"""

import platform
from types import SimpleNamespace

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
@pytest.mark.parametrize("n_chosen", [1, 2])
def test_input_choice_call(benchmark, path: str, n_chosen: int) -> None:
    benchmark.group = f"InputChoice call (hard mask, {n_chosen} of 4)"
    with torch.no_grad():
        benchmark(bench.input_choice_case(path, n_chosen=n_chosen))


@pytest.mark.parametrize("path", ["nasops", "nni_path"])
@pytest.mark.parametrize("shape", list(bench.CELL_SHAPES))
def test_darts_cell_step(benchmark, path: str, shape: str) -> None:
    benchmark.group = f"DARTS cell reset+forward+backward, states {bench.CELL_SHAPES[shape]}"
    benchmark(bench.darts_cell_case(path, shape))


def test_summary() -> None:
    """Medians measured in one run, so the ratios compare like with like. The targets are for
    hard 1-of-n masks and for the cell at DARTS' shape; the other rows are reported."""
    rows = {
        row["case"]: row for row in bench.run_level(SimpleNamespace(quick=False, max_reps=None))
    }
    print(
        f"\n{platform.processor() or platform.machine()}, torch {torch.__version__}, "
        f"backend {extension_info()}"
    )
    print("| case | direct µs | nasops µs | NNI path µs | nasops overhead µs | NNI / nasops |")
    print("|---|---|---|---|---|---|")
    for case, r in rows.items():
        cells = [r["direct_us"], r["nasops_us"], r["nni_path_us"], r["nasops_overhead_us"]]
        shown = " | ".join("-" if v is None else f"{v:.2f}" for v in cells)
        print(f"| {case} | {shown} | {r['nni_path / nasops']:.2f}x |")
    for case in ("LayerChoice, 1 of 4", "InputChoice, 1 of 4"):
        assert rows[case]["nasops_overhead_us"] <= 5.0, rows[case]
        assert rows[case]["nni_path / nasops"] >= 2.0, rows[case]
    darts = rows[f"DARTS cell step, states {bench.CELL_SHAPES['darts']}"]
    assert darts["nni_path / nasops"] > 1.0, darts
