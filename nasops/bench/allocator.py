"""The CPU allocator regime a benchmark runs under, set once at the start of the process.

glibc serves blocks above its dynamic mmap threshold (at most 32 MiB on 64-bit) with fresh
mmapped memory, which the kernel page-faults and zeroes on first touch: at large N that,
not bandwidth, sets the speed of any op that allocates its output. Two regimes:

- ``default``: glibc as configured (what most users run);
- ``reuse``: ``mallopt(M_MMAP_MAX, 0)`` and a 2 GiB ``M_TRIM_THRESHOLD``, the runtime form
  of ``MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=...``: freed blocks stay mapped and are
  reused, so an output allocation costs no page faults. Kernel bandwidth is read here, on
  the ops called with ``out=``, as TRIAD is.
"""

import ctypes
import ctypes.util
import os

REGIMES = ("default", "reuse")
_M_TRIM_THRESHOLD = -1
_M_MMAP_MAX = -4
_TRIM_THRESHOLD = 2**31 - 1  # mallopt takes an int


def glibc_version() -> str | None:
    try:
        return os.confstr("CS_GNU_LIBC_VERSION")
    except (ValueError, OSError, AttributeError):
        return None


def set_regime(regime: str) -> None:
    """Switch the process to ``regime``; call before the benchmark allocates its tensors."""
    if regime not in REGIMES:
        raise ValueError(f"allocator regime must be one of {REGIMES}, got {regime!r}")
    if regime == "default":
        return
    if not (glibc_version() or "").startswith("glibc"):
        raise RuntimeError(f"allocator regime {regime!r} needs glibc; this libc is not glibc")
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    if not (libc.mallopt(_M_MMAP_MAX, 0) and libc.mallopt(_M_TRIM_THRESHOLD, _TRIM_THRESHOLD)):
        raise RuntimeError("mallopt refused the 'reuse' allocator settings")
