"""Facts about the machine and the software a benchmark ran on, for the JSON and the report."""

import os
import platform
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

import nasops
from nasops.bench import allocator
from nasops.bench.sweep import MMAP_THRESHOLD_MAX

# Environment variables that change how big allocations are served (glibc tunables, an
# allocator swapped in with LD_PRELOAD); the allocation-heavy peers are sensitive to them.
_ALLOCATOR_PREFIXES = ("MALLOC_", "GLIBC_TUNABLES", "LD_PRELOAD", "JE_", "TCMALLOC_")


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _last_level_cache() -> str | None:
    caches = sorted(Path("/sys/devices/system/cpu/cpu0/cache").glob("index*"))
    for index in reversed(caches):
        try:
            return (
                f"L{(index / 'level').read_text().strip()} {(index / 'size').read_text().strip()}"
            )
        except OSError:
            continue
    return None


def _memory_bytes() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def allocator_regime(regime: str = "default") -> dict[str, Any]:
    """How large CPU tensors are allocated: libc, tunables in the environment, the mmap rule."""
    env = {k: v for k, v in os.environ.items() if k.startswith(_ALLOCATOR_PREFIXES)}
    libc = allocator.glibc_version()
    if regime == "reuse":
        summary = (
            "reuse: mallopt(M_MMAP_MAX=0, M_TRIM_THRESHOLD=2 GiB) at start; freed blocks stay "
            "mapped and are reused, so allocating an output costs no page faults"
        )
    elif libc and not env:
        summary = (
            f"default {libc} malloc: blocks above the dynamic mmap threshold (128 KiB, rising "
            f"to at most {MMAP_THRESHOLD_MAX >> 20} MiB) are fresh mmapped, page-faulted memory; "
            "tensors of 32 MiB or more always are"
        )
    elif env:
        summary = "allocator tuned by the environment: " + ", ".join(sorted(env))
    else:
        summary = "not glibc: see the platform's allocator"
    if regime == "reuse" and env:
        summary += "; environment also sets " + ", ".join(sorted(env))
    return {
        "regime": regime,
        "libc": libc,
        "env": env,
        "mmap_threshold_max_bytes": MMAP_THRESHOLD_MAX,
        "summary": summary,
    }


def machine_info(
    device: str, threads: int, command: str, regime: str = "default"
) -> dict[str, Any]:
    """Everything needed to say where and how a result was measured."""
    info: dict[str, Any] = {
        "date_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "logical_cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "last_level_cache": _last_level_cache(),
        "memory_bytes": _memory_bytes(),
        "threads": threads,
        "torch": torch.__version__,
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "device": device,
        "nasops": nasops.__version__,
        "nasops_extension": nasops.extension_info(),
        "allocator": allocator_regime(regime),
    }
    if torch.device(device).type == "cuda":
        index = torch.cuda.current_device()
        info["cuda_device"] = torch.cuda.get_device_name(index)
        info["cuda_runtime"] = torch.version.cuda
    return info
