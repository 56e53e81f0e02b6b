"""Finds the compiled ``nasops._C`` library, or records why the fallback is in use.

Importing ``nasops._C`` runs its ``TORCH_LIBRARY`` registration. Any failure (not built,
built against another torch, ``NASOPS_FORCE_FALLBACK=1``) is kept as a reason, never raised:
``import nasops`` always works, and ``extension_info()`` says what is running and why.
"""

import importlib
import json
import os
from dataclasses import dataclass
from typing import Any

import torch

FORCE_FALLBACK_ENV = "NASOPS_FORCE_FALLBACK"


@dataclass(frozen=True)
class LoadResult:
    """Whether the compiled library loaded, and why not if it did not."""

    loaded: bool
    reason: str | None


def _load() -> LoadResult:
    if os.environ.get(FORCE_FALLBACK_ENV, "0") not in ("", "0"):
        return LoadResult(False, f"{FORCE_FALLBACK_ENV}={os.environ[FORCE_FALLBACK_ENV]} is set")
    try:
        importlib.import_module("nasops._C")
    except ImportError as error:
        if getattr(error, "name", None) == "nasops._C":
            return LoadResult(
                False,
                "nasops._C is not built; install from source with "
                "`pip install --no-build-isolation .` to compile it",
            )
        return LoadResult(False, _mismatch_reason(error))
    except OSError as error:
        return LoadResult(False, _mismatch_reason(error))
    return LoadResult(True, None)


def _mismatch_reason(error: BaseException) -> str:
    return (
        f"nasops._C failed to load ({error}); it was probably built against another torch "
        f"than the installed {torch.__version__}: rebuild with `pip install --no-build-isolation .`"
    )


LOAD_RESULT = _load()


def has_extension() -> bool:
    """True when the compiled kernels are in use (False: the pure-PyTorch fallback runs)."""
    return LOAD_RESULT.loaded


def _kernel_source(key: str) -> str:
    compiled = LOAD_RESULT.loaded and key in _build_info().get("kernels", [])
    return "compiled" if compiled else "fallback"


def _build_info() -> dict[str, Any]:
    if not LOAD_RESULT.loaded:
        return {}
    return json.loads(torch.ops.nasops._build_info())


def extension_info() -> dict[str, Any]:
    """The build and load configuration: which backend runs on each device, and why.

    Keys: ``backend`` ("compiled" or "fallback"), ``reason`` (why not compiled, or None),
    ``kernels`` (device -> "compiled"/"fallback"), ``cuda_built``, ``torch_built_against``,
    ``torch_runtime``, plus the facts the library reports about its build: ``openmp``,
    ``compiler`` and ``cpu_loops`` (which build of the CPU loops this machine runs: "avx2" or
    "x86-64" on x86-64 Linux, "native" elsewhere).
    """
    build = _build_info()
    info: dict[str, Any] = {
        "backend": "compiled" if LOAD_RESULT.loaded else "fallback",
        "reason": LOAD_RESULT.reason,
        "kernels": {key.lower(): _kernel_source(key) for key in ("CPU", "CUDA")},
        "cuda_built": "CUDA" in build.get("kernels", []),
        "torch_built_against": build.get("torch_version"),
        "torch_runtime": torch.__version__,
    }
    info.update({k: v for k, v in build.items() if k not in ("kernels", "torch_version")})
    return info
