"""The op library's registration, loading, fallback switch and build information."""

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nasops
from nasops.ops._schemas import SCHEMAS, TENSOR_OPS


@pytest.mark.parametrize("name", list(SCHEMAS))
def test_registered_schema_is_the_documented_one(name):
    schema = str(getattr(torch.ops.nasops, name).default._schema)
    assert schema == "nasops::" + SCHEMAS[name]


@pytest.mark.parametrize("name", TENSOR_OPS)
@pytest.mark.parametrize("key", ["CPU", "CUDA"])
def test_every_op_has_a_kernel_for_every_device(name, key):
    assert torch._C._dispatch_has_kernel_for_dispatch_key(f"nasops::{name}", key)


def test_extension_info_describes_the_running_backend():
    info = nasops.extension_info()
    assert info["backend"] == ("compiled" if nasops.has_extension() else "fallback")
    assert info["torch_runtime"] == torch.__version__
    if nasops.has_extension():
        assert info["reason"] is None
        assert info["kernels"]["cpu"] == "compiled"
        assert torch.__version__.startswith(info["torch_built_against"])
    else:
        assert info["reason"]
        assert info["kernels"] == {"cpu": "fallback", "cuda": "fallback"}


def _cpu_flags() -> set[str]:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            return set(line.split(":", 1)[1].split())
    return set()


@pytest.mark.skipif(not nasops.has_extension(), reason="compiled kernels not in use")
def test_extension_info_names_the_cpu_loops_this_machine_runs():
    loops = nasops.extension_info()["cpu_loops"]
    if sys.platform == "linux" and platform.machine() == "x86_64":
        assert loops == ("avx2" if "avx2" in _cpu_flags() else "x86-64")
    else:
        assert loops == "native"


def _run(code: str, **env: str) -> str:
    full_env = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=full_env, check=True
    )
    return result.stdout.strip()


def test_force_fallback_switch_is_honoured_and_explained():
    code = (
        "import torch, nasops; i = nasops.extension_info(); "
        "print(nasops.has_extension(), i['reason'], "
        "nasops.ops.weighted_sum([torch.ones(2)] * 3).tolist())"
    )
    assert _run(code, NASOPS_FORCE_FALLBACK="1") == (
        "False NASOPS_FORCE_FALLBACK=1 is set [3.0, 3.0]"
    )


def test_import_works_without_the_compiled_library():
    # Hide nasops._C from the import system: the package must still import and compute.
    code = (
        "import sys, importlib.abc\n"
        "class Hide(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name == 'nasops._C': raise ImportError('hidden', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "import torch, nasops\n"
        "print(nasops.has_extension(), nasops.extension_info()['reason'].split(';')[0])\n"
        "print(nasops.ops.weighted_mean([torch.ones(2), torch.zeros(2)]).tolist())\n"
    )
    assert _run(code).splitlines() == ["False nasops._C is not built", "[0.5, 0.5]"]
