"""Input validation shared by the fake kernels and the fallback kernels.

The C++ kernels (``csrc/checks.cpp``) raise the very same messages, so a user sees one error
whichever backend runs, and the tests check the messages once for both.
"""

from collections.abc import Sequence

import torch

from nasops.ops._layout import is_dense

FLOAT_DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
_ACCEPTED = "accepted dtypes are float32, float64, float16 and bfloat16"


def _fail(op: str, message: str) -> None:
    raise ValueError(f"nasops.{op}: {message}")


def check_inputs(op: str, xs: Sequence[torch.Tensor], weights: torch.Tensor | None) -> None:
    """Check ``xs`` (one device, one floating dtype, equal shapes) and ``weights``."""
    _check_list(op, xs)
    ref = xs[0]
    for i, x in enumerate(xs):
        if x.shape != ref.shape:
            _fail(
                op,
                f"xs[{i}] has shape {list(x.shape)} but xs[0] has shape {list(ref.shape)}; "
                f"{op} needs equal shapes (no broadcasting)",
            )
    check_weights(op, xs, weights)


def check_concat_inputs(
    op: str, xs: Sequence[torch.Tensor], weights: torch.Tensor | None, dim: int
) -> int:
    """Check ``xs`` for a concatenation along ``dim``; return ``dim`` made non-negative."""
    _check_list(op, xs)
    ref = xs[0]
    if ref.dim() == 0:
        _fail(op, f"xs[0] is 0-dimensional; {op} needs inputs with at least one dimension")
    if not -ref.dim() <= dim < ref.dim():
        _fail(
            op,
            f"dim {dim} is out of range for inputs with {ref.dim()} dimensions; "
            f"accepted is {-ref.dim()}..{ref.dim() - 1}",
        )
    dim %= ref.dim()
    for i, x in enumerate(xs):
        same_rank = x.dim() == ref.dim()
        if not same_rank or any(x.shape[d] != ref.shape[d] for d in range(x.dim()) if d != dim):
            _fail(
                op,
                f"xs[{i}] has shape {list(x.shape)} but xs[0] has shape {list(ref.shape)}; "
                f"{op} needs equal shapes except in dim {dim}",
            )
    check_weights(op, xs, weights)
    return dim


def check_not_empty(op: str, xs: Sequence[torch.Tensor]) -> None:
    """An empty list has no tensor to dispatch on, so the Python wrappers check it first."""
    if len(xs) == 0:
        _fail(op, "xs must be a non-empty list of tensors, got an empty list")


def _check_list(op: str, xs: Sequence[torch.Tensor]) -> None:
    check_not_empty(op, xs)
    ref = xs[0]
    for i, x in enumerate(xs):
        if x.dtype not in FLOAT_DTYPES:
            _fail(op, f"xs[{i}] has dtype {x.dtype}; {_ACCEPTED}")
        if x.dtype != ref.dtype:
            _fail(
                op,
                f"xs[{i}] has dtype {x.dtype} but xs[0] has dtype {ref.dtype}; "
                "all inputs must share one dtype",
            )
        if x.device != ref.device:
            _fail(
                op,
                f"xs[{i}] is on device {x.device} but xs[0] is on {ref.device}; "
                "all inputs must be on one device",
            )


def check_weights(op: str, xs: Sequence[torch.Tensor], weights: torch.Tensor | None) -> None:
    """Check that ``weights`` is None or a floating 1-D tensor with one entry per input."""
    if weights is None:
        return
    if weights.dim() != 1:
        _fail(
            op,
            f"weights must be 1-D with one entry per input ({len(xs)}), "
            f"got shape {list(weights.shape)}",
        )
    if weights.shape[0] != len(xs):
        _fail(
            op,
            f"weights has {weights.shape[0]} entries but xs has {len(xs)} inputs; "
            "weights must be 1-D with one entry per input",
        )
    if weights.dtype not in FLOAT_DTYPES:
        _fail(op, f"weights has dtype {weights.dtype}; {_ACCEPTED}")
    if weights.device != xs[0].device:
        _fail(
            op,
            f"weights is on device {weights.device} but xs[0] is on {xs[0].device}; "
            "weights must be on the inputs' device",
        )


def check_backward(
    op: str,
    grad: torch.Tensor,
    xs: Sequence[torch.Tensor],
    weights: torch.Tensor,
    weight_grad: bool,
) -> None:
    """Check the ``*_backward`` ops' arguments: ``xs`` is empty or one tensor per weight."""
    if weights.dim() != 1:
        _fail(op, f"weights must be 1-D, got shape {list(weights.shape)}")
    if grad.dtype not in FLOAT_DTYPES:
        _fail(op, f"grad has dtype {grad.dtype}; {_ACCEPTED}")
    if weight_grad and len(xs) != weights.shape[0]:
        _fail(
            op,
            f"the weight gradient needs one input per weight, got {len(xs)} inputs and "
            f"{weights.shape[0]} weights",
        )
    for i, x in enumerate(xs):
        if x.dtype != grad.dtype or x.device != grad.device:
            _fail(op, f"xs[{i}] must have grad's dtype {grad.dtype} and device {grad.device}")
    if weights.device != grad.device:
        _fail(op, f"weights is on device {weights.device} but grad is on {grad.device}")


def check_concat_backward(
    grad: torch.Tensor,
    xs: Sequence[torch.Tensor],
    weights: torch.Tensor,
    dim: int,
    sizes: Sequence[int],
    weight_grad: bool,
) -> None:
    """``check_backward`` plus ``sizes`` (one per weight) adding up to grad's extent in ``dim``."""
    op = "weighted_concat_backward"
    check_backward(op, grad, xs, weights, weight_grad)
    if len(sizes) != weights.shape[0]:
        _fail(op, f"sizes has {len(sizes)} entries but weights has {weights.shape[0]}")
    if not 0 <= dim < grad.dim():
        _fail(op, f"dim {dim} is out of range for grad with {grad.dim()} dimensions")
    if any(size < 0 for size in sizes):
        _fail(op, f"sizes must be non-negative, got {list(sizes)}")
    if sum(sizes) != grad.shape[dim]:
        _fail(op, f"sizes sum to {sum(sizes)} but grad has {grad.shape[dim]} entries in dim {dim}")


def _byte_span(t: torch.Tensor) -> tuple[int, int]:
    """The bytes ``[first, last)`` that ``t``'s elements span; empty for zero elements."""
    if t.numel() == 0:
        return 0, 0
    last = sum((size - 1) * stride for size, stride in zip(t.shape, t.stride(), strict=True))
    first = t.data_ptr()
    return first, first + (last + 1) * t.element_size()


def check_out(
    op: str,
    out: torch.Tensor,
    shape: Sequence[int],
    xs: Sequence[torch.Tensor],
    *,
    may_be_input: bool,
    contiguous: bool,
    memory: bool = True,
) -> None:
    """Check the ``out`` of a ``*_out`` op: the result's shape, the inputs' dtype and device,
    a layout the kernels write (dense; contiguous for concat), and no memory shared with an
    input, except that sum and mean (``may_be_input``) may write over one input exactly.
    ``memory=False`` skips the last check (fake tensors have no addresses)."""
    ref = xs[0]
    if out.dtype != ref.dtype:
        _fail(op, f"out has dtype {out.dtype} but the inputs have dtype {ref.dtype}")
    if out.device != ref.device:
        _fail(op, f"out is on device {out.device} but the inputs are on {ref.device}")
    if list(out.shape) != list(shape):
        _fail(op, f"out has shape {list(out.shape)} but the result has shape {list(shape)}")
    if contiguous and not out.is_contiguous():
        _fail(op, f"out must be contiguous, got strides {list(out.stride())}")
    if not contiguous and not is_dense(out):
        strides = list(out.stride())
        _fail(op, f"out must be dense (no gaps or overlapping elements), got strides {strides}")
    if not memory:
        return
    first, last = _byte_span(out)
    for i, x in enumerate(xs):
        x_first, x_last = _byte_span(x)
        if last <= x_first or x_last <= first:
            continue
        same_view = (
            out.data_ptr() == x.data_ptr() and out.shape == x.shape and out.stride() == x.stride()
        )
        if not (may_be_input and same_view):
            allowed = (
                "out may be one of the inputs but must not partly overlap any"
                if may_be_input
                else "out must not overlap any input"
            )
            _fail(op, f"out shares memory with xs[{i}]; {allowed}")
