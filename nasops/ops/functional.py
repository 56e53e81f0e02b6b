"""The public op functions: typed wrappers over the ``nasops::`` ops.

Eagerly they enter the ops' autograd kernels directly, which halves the per-call cost of
small reductions; under torch.compile they call ``torch.ops.nasops`` so the graph holds the op.

Every function reads each input once and writes one output (one fused pass on the compiled
backend). Weights may require grad; the weight gradient is ``<grad_out, x_i>``.
"""

from collections.abc import Sequence

import torch

from nasops.ops import _autograd
from nasops.ops._validation import check_not_empty

REDUCTIONS = ("sum", "mean", "concat")


def _as_list(op: str, xs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    if isinstance(xs, torch.Tensor) or not isinstance(xs, Sequence):
        got = type(xs).__name__
        raise TypeError(f"nasops.{op}: xs must be a list or tuple of tensors, got {got}")
    for i, x in enumerate(xs):
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"nasops.{op}: xs[{i}] is {type(x).__name__}; expected a tensor")
    check_not_empty(op, xs)
    return list(xs)


def _out(name: str, *args: object) -> None:
    """Run the ``*_out`` op ``name``: through ``torch.ops`` under torch.compile, else straight
    into its autograd kernel (which refuses inputs that require grad)."""
    if torch.compiler.is_compiling():
        getattr(torch.ops.nasops, name)(*args)
    else:
        _autograd.OUT_KERNELS[name](*args)


def weighted_sum(
    xs: Sequence[torch.Tensor],
    weights: torch.Tensor | None = None,
    *,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``Σ_i weights[i]·xs[i]``, or ``Σ_i xs[i]`` when ``weights`` is None.

    Args:
        xs: non-empty list of tensors of one shape, dtype (float32/64, float16, bfloat16)
            and device. Half types accumulate in float32; the result has the inputs' dtype.
        weights: optional 1-D floating tensor with ``len(xs)`` entries on the inputs' device.
        out: optional dense tensor of the result's shape, dtype and device to write into
            (it may be one of ``xs``); returned. Like torch's ``out=``, it records no graph.
    """
    xs = _as_list("weighted_sum", xs)
    if out is not None:
        _out("weighted_sum_out", xs, weights, out)
        return out
    if torch.compiler.is_compiling():
        return torch.ops.nasops.weighted_sum(xs, weights)
    return _autograd.weighted_sum(xs, weights)


def weighted_mean(
    xs: Sequence[torch.Tensor],
    weights: torch.Tensor | None = None,
    *,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``Σ_i weights[i]·xs[i] / len(xs)``: NNI's mean divides by the count, not by Σ weights.

    ``out`` as for :func:`weighted_sum`.
    """
    xs = _as_list("weighted_mean", xs)
    if out is not None:
        _out("weighted_mean_out", xs, weights, out)
        return out
    if torch.compiler.is_compiling():
        return torch.ops.nasops.weighted_mean(xs, weights)
    return _autograd.weighted_mean(xs, weights)


def weighted_concat(
    xs: Sequence[torch.Tensor],
    weights: torch.Tensor | None = None,
    dim: int = 1,
    *,
    out: torch.Tensor | None = None,
) -> torch.Tensor:
    """``cat([weights[i]·xs[i]], dim)``; shapes must agree except in ``dim`` (may be negative).

    ``out``: optional contiguous tensor of the result's shape, dtype and device, sharing no
    memory with ``xs``, to write into; returned. It records no graph.
    """
    xs = _as_list("weighted_concat", xs)
    if out is not None:
        _out("weighted_concat_out", xs, weights, dim, out)
        return out
    if torch.compiler.is_compiling():
        return torch.ops.nasops.weighted_concat(xs, weights, dim)
    return _autograd.weighted_concat(xs, weights, dim)


def reduce(
    xs: Sequence[torch.Tensor],
    weights: torch.Tensor | None = None,
    reduction: str = "sum",
    dim: int = 1,
) -> torch.Tensor:
    """Reduce ``xs`` with the op named by ``reduction`` ("sum", "mean" or "concat").

    The one entry point the mutables use, so every module reduces through the fused ops.
    ``dim`` is used by "concat" only.
    """
    if reduction == "sum":
        return weighted_sum(xs, weights)
    if reduction == "mean":
        return weighted_mean(xs, weights)
    if reduction == "concat":
        return weighted_concat(xs, weights, dim)
    raise ValueError(f"nasops.reduce: unknown reduction {reduction!r}; accepted are {REDUCTIONS}")
