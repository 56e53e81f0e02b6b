"""pytest-benchmark set-up: collect ``bench_*.py`` files and print the targets table at the end.

Run with ``pytest benchmarks --benchmark-only``. The default test run (``testpaths =
["tests"]``) never enters this folder, so no timing runs there.
"""

import pytest

from nasops.bench import allocator, targets
from nasops.bench.sweep import Case

# (mode, K) -> {method: median seconds}, the baselines' GB/s and the device type, filled in as
# benchmarks finish.
MEDIANS = pytest.StashKey[dict]()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--nasops-allocator",
        choices=allocator.REGIMES,
        default="default",
        help="CPU allocator regime for the nasops benchmarks (see nasops/bench/allocator.py)",
    )
    parser.addoption(
        "--nasops-device",
        choices=["cpu", "cuda"],
        default=None,
        help="where the nasops benchmarks run (default: cuda when a GPU is present)",
    )


def pytest_configure(config: pytest.Config) -> None:
    allocator.set_regime(config.getoption("--nasops-allocator"))


def pytest_collect_file(file_path, parent):
    if file_path.suffix == ".py" and file_path.name.startswith("bench_"):
        return pytest.Module.from_parent(parent, path=file_path)
    return None


@pytest.fixture(scope="session")
def medians(request: pytest.FixtureRequest) -> dict:
    """Where each benchmark leaves its median, for the targets table."""
    return request.config.stash.setdefault(MEDIANS, {})


@pytest.hookimpl(trylast=True)  # after pytest-benchmark's tables
def pytest_terminal_summary(terminalreporter, config):
    recorded = config.stash.get(MEDIANS, {})
    device_type = recorded.get("device_type", "cpu")
    baseline = recorded.get("baseline_gbs", {}).get(targets.BANDWIDTH_BASELINE[device_type].name)
    measured = {}
    for key, by_method in recorded.items():
        if not isinstance(key, tuple) or baseline is None:
            continue
        if "nasops" in by_method and "python_sum" in by_method:
            mode, k = key
            measured[key] = targets.Measured(
                by_method["nasops"],
                by_method["python_sum"],
                Case("sum", mode, "float32", k, targets.N_LOG2).useful_bytes(),
                baseline,
                by_method.get("nasops_out"),
            )
    if not measured:
        return
    regime = config.getoption("--nasops-allocator") if device_type == "cpu" else "caching"
    terminalreporter.section(
        f"nasops speed targets (N = 2^24 float32, {device_type}, allocator {regime}, "
        "pytest-benchmark medians)"
    )
    terminalreporter.write_line(
        "pytest-benchmark runs each benchmark's rounds back to back, so drift between them "
        "enters these ratios; `python benchmarks/bench_ops.py` measures them interleaved."
    )
    terminalreporter.write_line(targets.targets_table(measured, device_type))
