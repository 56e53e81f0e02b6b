"""A DARTS search step on nasops against the same supernet on NNI's reduction path (issues 7, 17).

The supernet is a stem and ``--cells`` ``DartsCell`` s (DARTS' 8 operations per edge, the
middle cell reduces); one step is first-order DARTS: the architecture step, then the weight
step. The paths (NNI's, nasops' fused reductions, nasops' DartsTrainer step by default, with
memory="recompute" and with compile=True) are timed round-robin in one process (same threads,
medians); each path's peak memory is measured in a fresh process. The measurement lives in
``nasops.bench.supernet``, shared with ``nasops bench --levels supernet``.

    python benchmarks/bench_supernet.py [--rounds R] [--threads T] [--device cpu|cuda]
        [--batch B] [--image-size S] [--channels C] [--nodes N] [--cells L] [--no-memory]
        [--paths nni_path,nasops_trainer,nasops_recompute] [--no-progress]
    pytest benchmarks --benchmark-only -k search_step [--nasops-device cpu|cuda]

Targets: on the CPU >= 1.08x faster and no higher peak; on CUDA >= 1.5x and a lower peak.
Recompute: peak <= 0.4x NNI's path's, step <= 1.4x nasops' default; compiled >= 1.3x NNI's.
The memory-lean run of issue 17: --batch 16 --cells 4 --nodes 2 --channels 8 (``LEAN``).
"""

import argparse
import sys

import pytest
import torch

import nasops
from nasops.bench import supernet
from nasops.bench.machine import cpu_model
from nasops.bench.timing import synchronizer


@pytest.mark.parametrize("path", list(supernet.PATHS))
def test_search_step(benchmark, request: pytest.FixtureRequest, path: str) -> None:
    device = request.config.getoption("--nasops-device") or "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("--nasops-device cuda asked for, but torch sees no CUDA device")
    step = supernet.SearchStep(path, supernet.QUICK, device)
    sync = synchronizer(device)

    def timed() -> None:
        step()
        sync()

    benchmark.group = f"DARTS search step {supernet.QUICK} {device}"
    benchmark.pedantic(timed, rounds=5, warmup_rounds=1, iterations=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    full = supernet.FULL
    parser.add_argument(
        "--rounds", type=int, default=supernet.ROUNDS["full"], help="steps per path"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--batch", type=int, default=full.batch)
    parser.add_argument("--image-size", type=int, default=full.image_size)
    parser.add_argument("--channels", type=int, default=full.channels)
    parser.add_argument("--nodes", type=int, default=full.n_nodes, help="nodes per cell")
    parser.add_argument(
        "--cells", type=int, default=full.cells, help="DartsCells (the middle one reduces)"
    )
    parser.add_argument(
        "--no-memory", action="store_true", help="time only (no peak-memory processes)"
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    parser.add_argument(
        "--paths",
        default=",".join(supernet.PATHS),
        help=f"comma-separated paths to measure (default: all of {','.join(supernet.PATHS)}); "
        f"{' and '.join(supernet.REQUIRED_PATHS)} are always needed",
    )
    args = parser.parse_args(argv)
    try:
        paths = supernet.check_paths(tuple(p for p in args.paths.split(",") if p))
    except ValueError as error:
        parser.error(f"--paths: {error}")
    if args.device == "cuda" and not torch.cuda.is_available():
        print("skipped: --device cuda asked for, but torch sees no CUDA device", file=sys.stderr)
        return 0
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    config = supernet.SupernetConfig(
        batch=args.batch,
        channels=args.channels,
        image_size=args.image_size,
        n_nodes=args.nodes,
        cells=args.cells,
    )
    where = torch.cuda.get_device_name() if args.device == "cuda" else cpu_model()
    ext = nasops.extension_info()
    print(
        f"{where}, torch {torch.__version__}, {torch.get_num_threads()} "
        f"threads, nasops {ext['backend']}" + (f" ({ext['reason']})" if ext["reason"] else ""),
        flush=True,
    )
    run = supernet.measure(
        config,
        args.device,
        args.rounds,
        memory_check=not args.no_memory,
        paths=paths,
        progress=not args.no_progress,
    )
    print(supernet.markdown(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
