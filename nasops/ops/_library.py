"""Puts the ``nasops::`` ops in place: compiled kernels where built, the fallback elsewhere.

Runs once on import. When the compiled library loaded, its ``TORCH_LIBRARY`` already defined
the schemas; otherwise they are defined here from ``_schemas``. Any device without a compiled
kernel (every device for the fallback, CUDA for a CPU-only build) gets the fallback kernel.
Fake kernels and autograd are then registered once for all backends.
"""

import torch

from nasops._extension import LOAD_RESULT
from nasops.ops import _autograd, _fake, _fallback
from nasops.ops._schemas import SCHEMAS, TENSOR_OPS

DEVICE_KEYS = ("CPU", "CUDA")


def _has_kernel(name: str, key: str) -> bool:
    return torch._C._dispatch_has_kernel_for_dispatch_key(f"nasops::{name}", key)


def _install() -> torch.library.Library:
    if LOAD_RESULT.loaded:
        lib = torch.library.Library("nasops", "IMPL")
    else:
        lib = torch.library.Library("nasops", "DEF")
        for schema in SCHEMAS.values():
            lib.define(schema)
    for name in TENSOR_OPS:
        for key in DEVICE_KEYS:
            if not _has_kernel(name, key):
                lib.impl(name, _fallback.KERNELS[name], key)
    _fake.register()
    _autograd.register(lib)
    return lib


# Kept referenced for the life of the process: dropping a Library deregisters its kernels.
LIBRARY = _install()
