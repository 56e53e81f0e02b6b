"""Peak memory of one call: the most bytes it held allocated at once, beyond what existed.

CUDA: ``torch.cuda.max_memory_allocated`` after a reset, minus the bytes allocated before.
CPU: torch keeps no CPU peak counter, so the call runs once under
``torch.profiler.profile(profile_memory=True)`` and the peak is replayed from its records:
each operator's own allocations count from the operator's start, each free from its time
stamp. It counts tensors from torch's CPU allocator only (what the reductions allocate), not
the process RSS. The result returned by the call is included (it is alive when it returns).
"""

import contextlib
import os
import sys
from collections.abc import Callable, Iterator

import torch

METHOD = {
    "cpu": "torch.profiler (profile_memory=True): peak of live bytes allocated by torch "
    "during one call, allocations placed at their operator's start",
    "cuda": "torch.cuda.max_memory_allocated() after reset_peak_memory_stats(), minus the "
    "bytes allocated before the call",
}


def peak_bytes(fn: Callable[[], object], device: str) -> int:
    """Run ``fn`` once and return the peak of bytes it allocated on ``device``."""
    if torch.device(device).type == "cuda":
        return _cuda_peak(fn)
    return _cpu_peak(fn)


def _cuda_peak(fn: Callable[[], object]) -> int:
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    result = fn()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - before
    del result
    return int(peak)


def _cpu_peak(fn: Callable[[], object]) -> int:
    from torch.profiler import ProfilerActivity, profile

    with _quiet_stderr(), profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
        fn()
    changes = []
    for event in prof.events():
        if event.name == "[memory]":
            changes.append((event.time_range.start, event.cpu_memory_usage))
        elif event.self_cpu_memory_usage:
            # Net allocation of the operator itself (children counted on their own events).
            changes.append((event.time_range.start, event.self_cpu_memory_usage))
    live = peak = 0
    for _, change in sorted(changes, key=lambda item: item[0]):
        live += change
        peak = max(peak, live)
    return int(peak)


@contextlib.contextmanager
def _quiet_stderr() -> Iterator[None]:
    """Silence the profiler's start/stop lines, which its C++ side writes straight to fd 2."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
