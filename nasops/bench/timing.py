"""Interleaved median timing: every method is timed round-robin, so drift hits all alike.

On a shared machine the memory bandwidth swings by 2× from one minute to the next. Timing
method A for ten calls and then method B for ten would turn that drift into a fake speed-up;
interleaving the calls (A B C, B C A, C A B, ...) spreads it evenly, and the median discards
the outliers that remain.
"""

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import torch

# A sample shorter than this is dominated by timer and loop overhead: cheap calls are
# repeated inside one sample until it lasts this long.
MIN_SAMPLE_S = 1e-3


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one method: median and spread over the samples."""

    median_s: float
    min_s: float
    max_s: float
    samples: int
    calls_per_sample: int


def synchronizer(device: str) -> Callable[[], None]:
    """A function waiting for the device's queued work (a no-op on CPU)."""
    if torch.device(device).type == "cuda":
        return torch.cuda.synchronize
    return lambda: None


def warm_up(device: str, seconds: float = 1.0) -> None:
    """Keep a GPU busy for ``seconds`` before timing, so its clocks have left their idle level.

    Without it the first cases of a run were timed on a GPU still ramping up (an H100 ran the
    first case up to 1.5× slower). A no-op on CPU.
    """
    if torch.device(device).type != "cuda":
        return
    a = torch.empty(1 << 26, device=device)
    b = torch.empty_like(a)
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        for _ in range(10):
            b.copy_(a)
        torch.cuda.synchronize(device)


def _sample(fn: Callable[[], object], calls: int, sync: Callable[[], None]) -> float:
    sync()
    start = time.perf_counter()
    for _ in range(calls):
        # The result is dropped inside the timed region: freeing it is part of the call's cost.
        fn()
    sync()
    return (time.perf_counter() - start) / calls


def interleaved_medians(
    fns: Mapping[str, Callable[[], object]],
    *,
    min_reps: int,
    max_reps: int,
    budget_s: float,
    sync: Callable[[], None] = lambda: None,
) -> dict[str, Timing]:
    """Time every function in ``fns`` round-robin and return the median per function.

    The callers have already run each function once (a warm-up). A first round times one call
    each; it calibrates how many calls make one sample (at least ``MIN_SAMPLE_S``) and how many
    rounds fit ``budget_s`` (clamped to ``[min_reps, max_reps]``). When no function needs
    repeating, that first round is kept as a sample. Each round starts at a different method.
    """
    names = list(fns)
    first = {name: _sample(fns[name], 1, sync) for name in names}
    calls = {name: max(1, math.ceil(MIN_SAMPLE_S / max(t, 1e-9))) for name, t in first.items()}
    round_s = sum(first[name] * calls[name] for name in names)
    reps = min(max_reps, max(min_reps, int(budget_s / max(round_s, 1e-9))))
    samples = {name: [] for name in names}
    if all(c == 1 for c in calls.values()):
        for name in names:
            samples[name].append(first[name])
        reps -= 1
    for rep in range(reps):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            samples[name].append(_sample(fns[name], calls[name], sync))
    return {
        name: Timing(
            median_s=_median(times),
            min_s=min(times),
            max_s=max(times),
            samples=len(times),
            calls_per_sample=calls[name],
        )
        for name, times in samples.items()
    }


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    if len(ordered) % 2:
        return ordered[mid]
    return 0.5 * (ordered[mid - 1] + ordered[mid])
