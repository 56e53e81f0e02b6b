"""Fails unless the built library registers a CUDA kernel for every ``nasops::`` tensor op.

Run from a source tree holding a CUDA build (``make cuda-check`` does). The library is loaded
directly, not through ``import nasops``: importing nasops fills any missing kernel with the
Python fallback, which would hide a kernel the build left out.
"""

import glob
import importlib.util
import sys

import torch

libraries = glob.glob("nasops/_C*.so")
if len(libraries) != 1:
    sys.exit(f"expected one built nasops/_C*.so, found {libraries}")
torch.ops.load_library(libraries[0])

spec = importlib.util.spec_from_file_location("schemas", "nasops/ops/_schemas.py")
schemas = importlib.util.module_from_spec(spec)
spec.loader.exec_module(schemas)

missing = [
    name
    for name in schemas.TENSOR_OPS
    if not torch._C._dispatch_has_kernel_for_dispatch_key(f"nasops::{name}", "CUDA")
]
if missing:
    sys.exit(f"{libraries[0]} has no CUDA kernel for: {', '.join(missing)}")
print(f"{libraries[0]}: CUDA kernels for all {len(schemas.TENSOR_OPS)} tensor ops")
