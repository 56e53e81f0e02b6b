"""Shared fixtures: the op backend under test, and the device list."""

import warnings
from collections.abc import Iterator

import pytest
import torch

import nasops
from nasops.ops import _fallback
from nasops.ops._schemas import TENSOR_OPS

BACKENDS = ("compiled", "fallback")
DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> Iterator[str]:
    """Run the test once on the compiled kernels and once on the stock-PyTorch fallback.

    The fallback is put in place by overriding the compiled kernels for the test's duration;
    destroying the override library restores them.
    """
    if request.param == "compiled":
        if not nasops.has_extension():
            pytest.skip(f"compiled kernels not in use: {nasops.extension_info()['reason']}")
        yield "compiled"
        return
    if not nasops.has_extension():
        yield "fallback"
        return
    lib = torch.library.Library("nasops", "IMPL")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "overriding a previously registered kernel"
        for name in TENSOR_OPS:
            for key in ("CPU", "CUDA"):
                lib.impl(name, _fallback.KERNELS[name], key)
    try:
        yield "fallback"
    finally:
        lib._destroy()


# Folders whose tests run whole (tiny) models rather than single ops.
MODEL_LEVEL = ("algorithms", "cli", "compat", "mutables", "razor", "trainers", "zoo")


@pytest.fixture(autouse=True)
def one_thread_for_tiny_models(request: pytest.FixtureRequest) -> Iterator[None]:
    """Model-level tests run on one intra-op thread: batch-2, 8x8 convolutions gain nothing
    from threads, and on a loaded 2-core machine OpenMP's hand-offs cost them up to 0.2 s a
    step against 1 ms on one thread. Op tests keep torch's setting (they test threading)."""
    if request.path.parent.name not in MODEL_LEVEL:
        yield
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> str:
    return request.param


def pytest_make_parametrize_id(config: pytest.Config, val: object, argname: str) -> str | None:
    """Name dtypes in test ids (``float32``, not ``dtype0``), so ``-k float32`` selects them."""
    if isinstance(val, torch.dtype):
        return str(val).removeprefix("torch.")
    return None
