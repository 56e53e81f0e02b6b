"""Builds nasops and its compiled op library ``nasops._C``.

Install with ``pip install --no-build-isolation .`` (torch must already be installed).
Environment switches:
  NASOPS_CUDA=1/0   build the CUDA kernels, or not (default: when torch has CUDA and nvcc exists)
  NASOPS_DEBUG=1    -O0 -g instead of -O3
  TORCH_CUDA_ARCH_LIST, MAX_JOBS   as for any torch extension
"""

import glob
import os
import shutil
import subprocess
import sys

from setuptools import setup


def _fail(message: str) -> None:
    sys.exit(f"nasops build error: {message}")


try:
    import torch
    from torch.utils import cpp_extension
except ImportError:
    _fail(
        "torch is not installed. Install it first, e.g. `pip install torch==2.13.0` "
        "(CPU) or the build matching your CUDA, then run `pip install --no-build-isolation .`"
    )

HERE = os.path.dirname(os.path.abspath(__file__))
DEBUG = os.environ.get("NASOPS_DEBUG", "0") == "1"
DEFAULT_ARCH_LIST = "8.0;9.0+PTX"


def _sources(pattern: str) -> list[str]:
    return sorted(os.path.relpath(p, HERE) for p in glob.glob(os.path.join(HERE, pattern)))


def _check_compiler() -> str:
    cxx = os.environ.get("CXX", "c++")
    path = shutil.which(cxx)
    if path is None:
        _fail(f"no C++ compiler found (looked for {cxx!r}); install g++ or set CXX")
    return path


def _check_torch_headers() -> None:
    include_dirs = cpp_extension.include_paths()
    if not any(os.path.exists(os.path.join(d, "torch", "library.h")) for d in include_dirs):
        _fail(
            f"torch/library.h not found under {include_dirs}; this torch install lacks its "
            "C++ headers: reinstall torch from pip"
        )


def _nvcc_version(cuda_home: str) -> str | None:
    nvcc = os.path.join(cuda_home, "bin", "nvcc")
    try:
        out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError):
        return None
    for token in out.stdout.replace(",", " ").split():
        if token[:1].isdigit() and "." in token and token.count(".") == 1:
            return token
    return None


def _has_cudart(root: str) -> bool:
    return any(os.path.exists(os.path.join(root, lib, "libcudart.so")) for lib in ("lib64", "lib"))


def _toolkit_root(cuda_home: str) -> str:
    """The toolkit folder. torch guesses it from where nvcc is found, which is wrong when
    nvcc on PATH is a wrapper script (e.g. in /usr/local/bin); nvcc itself reports its TOP."""
    if os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or _has_cudart(cuda_home):
        return cuda_home
    nvcc = os.path.join(cuda_home, "bin", "nvcc")
    try:
        out = subprocess.run(
            [nvcc, "--dryrun", "-c", "-x", "cu", os.devnull, "-o", os.devnull],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return cuda_home
    for line in (out.stderr + out.stdout).splitlines():
        if line.startswith("#$ TOP="):
            top = os.path.normpath(line.split("=", 1)[1].strip())
            return top if _has_cudart(top) else cuda_home
    return cuda_home


def _cuda_decision() -> tuple[bool, str]:
    """Whether to build the CUDA kernels, and why."""
    switch = os.environ.get("NASOPS_CUDA")
    if switch == "0":
        return False, "NASOPS_CUDA=0"
    cuda_home = cpp_extension.CUDA_HOME
    if torch.version.cuda is None:
        if switch == "1":
            _fail(f"NASOPS_CUDA=1 but torch {torch.__version__} was built without CUDA")
        return False, f"torch {torch.__version__} has no CUDA"
    if cuda_home is None or _nvcc_version(cuda_home) is None:
        if switch == "1":
            _fail("NASOPS_CUDA=1 but nvcc was not found; set CUDA_HOME to the CUDA toolkit")
        return False, "nvcc not found"
    root = _toolkit_root(cuda_home)
    if root != cuda_home:
        # Include and library paths of CUDAExtension are read from here at build time.
        cpp_extension.CUDA_HOME = root
    nvcc = _nvcc_version(root)
    if nvcc.split(".")[0] != torch.version.cuda.split(".")[0]:
        _fail(
            f"nvcc is CUDA {nvcc} but torch {torch.__version__} was built with CUDA "
            f"{torch.version.cuda}; install the toolkit whose major version matches torch, or "
            "build without CUDA kernels (NASOPS_CUDA=0)"
        )
    return True, f"nvcc {nvcc} in {root}, torch CUDA {torch.version.cuda}"


def _cuda_include_dirs() -> list[str]:
    """Headers the toolkit may lack (cuBLAS, cuSPARSE, ...) that pip's nvidia packages ship."""
    dirs = []
    for entry in sys.path:
        for sub in ("cu13", "cu12"):
            include = os.path.join(entry, "nvidia", sub, "include")
            if os.path.isdir(include):
                dirs.append(include)
    return dirs


def _extension():
    cxx = _check_compiler()
    _check_torch_headers()
    with_cuda, cuda_reason = _cuda_decision()
    opt = ["-O0", "-g"] if DEBUG else ["-O3"]
    cxx_flags = [*opt, "-fopenmp"]
    sources = [*_sources("csrc/*.cpp"), *_sources("csrc/cpu/*.cpp")]
    kwargs = {
        "name": "nasops._C",
        "extra_link_args": ["-fopenmp"],
        "define_macros": [],
        "include_dirs": [os.path.join(HERE, "csrc")],
    }
    if with_cuda:
        os.environ.setdefault("TORCH_CUDA_ARCH_LIST", DEFAULT_ARCH_LIST)
        sources += _sources("csrc/cuda/*.cu")
        kwargs["define_macros"].append(("NASOPS_WITH_CUDA", None))
        kwargs["include_dirs"] += _cuda_include_dirs()
        # --fmad=false: the kernels are memory bound, so fused multiply-adds buy nothing,
        # and separately rounded products and sums give the CPU kernels' bits on x86-64.
        nvcc_flags = [*opt, "--expt-relaxed-constexpr", "--fmad=false"]
        flags = {"cxx": cxx_flags, "nvcc": nvcc_flags}
        ext = cpp_extension.CUDAExtension(sources=sources, extra_compile_args=flags, **kwargs)
    else:
        ext = cpp_extension.CppExtension(sources=sources, extra_compile_args=cxx_flags, **kwargs)
    print(
        "nasops build configuration:\n"
        f"  torch        {torch.__version__} (CUDA {torch.version.cuda})\n"
        f"  compiler     {cxx}\n"
        f"  flags        {' '.join(cxx_flags)}\n"
        f"  CUDA kernels {'on' if with_cuda else 'off'} ({cuda_reason})\n"
        f"  arch list    {os.environ.get('TORCH_CUDA_ARCH_LIST', '-') if with_cuda else '-'}\n"
        f"  sources      {len(sources)} files",
        flush=True,
    )
    return ext


setup(
    ext_modules=[_extension()],
    cmdclass={"build_ext": cpp_extension.BuildExtension.with_options(use_ninja=True)},
)
