"""Where a call's time goes: torch.profiler over the fused op and Python ``sum(w_i*x_i)``.

Prints, per method, the kernels each forward (or forward+backward) launches with their device
time, and the host time of the whole call, so a gap between the two shows as launch overhead,
a synchronization or an extra kernel rather than a guess.

    python benchmarks/profile_ops.py [--device cuda] [--k 2] [--log2n 24] [--mode forward+backward]
"""

import argparse
import sys

import torch
from torch.profiler import ProfilerActivity, profile

from nasops.bench.sweep import MODES, ROWS, Case, methods
from nasops.bench.timing import synchronizer

CALLS = 5


def profile_method(name: str, call, device: str) -> None:
    sync = synchronizer(device)
    for _ in range(3):
        call()
    sync()
    activities = [ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(ProfilerActivity.CUDA)
    with profile(activities=activities) as prof:
        for _ in range(CALLS):
            call()
        sync()
    sort = "self_device_time_total" if device == "cuda" else "self_cpu_time_total"
    print(f"\n## {name}: {CALLS} calls")
    print(prof.key_averages().table(sort_by=sort, row_limit=12, max_name_column_width=60))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default = "cuda" if torch.cuda.is_available() else "cpu"
    parser.add_argument("--device", choices=["cpu", "cuda"], default=default)
    parser.add_argument("--k", type=int, default=2)
    parser.add_argument("--log2n", type=int, default=24)
    parser.add_argument("--mode", choices=MODES, default="forward+backward")
    args = parser.parse_args(argv)
    case = Case("sum", args.mode, "float32", args.k, args.log2n)
    generator = torch.Generator(device=args.device).manual_seed(0)
    shape = (ROWS, case.n // ROWS)
    xs = [torch.randn(shape, generator=generator, device=args.device) for _ in range(args.k)]
    w = torch.softmax(torch.randn(args.k, device=args.device), 0)
    calls = {m.name: m.call for m in methods(case, xs, w)}
    for name in ("nasops", "python_sum"):
        label = f"{name} {args.mode} K={args.k} N=2^{args.log2n}"
        profile_method(label, calls[name], args.device)
    return 0


if __name__ == "__main__":
    sys.exit(main())
