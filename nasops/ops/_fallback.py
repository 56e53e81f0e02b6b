"""Stock-PyTorch kernels for the ``nasops::`` ops.

They run wherever no compiled kernel is registered for a device (no compiled library, a CPU-only
build on a CUDA tensor, or ``NASOPS_FORCE_FALLBACK=1``). Correctness first; they accumulate in
the same precision as the compiled kernels and allocate outputs by the same layout rule.
"""

from collections.abc import Callable, Sequence

import torch

from nasops.ops._layout import accumulate_dtype, concat_shape, new_output, weight_grad_output
from nasops.ops._validation import (
    check_backward,
    check_concat_backward,
    check_concat_inputs,
    check_inputs,
    check_out,
)


def _scaled_sum(
    xs: Sequence[torch.Tensor], weights: torch.Tensor | None, scale: float
) -> torch.Tensor:
    out = new_output(xs)
    acc = accumulate_dtype(out.dtype)
    total = out if out.dtype == acc else torch.empty_like(out, dtype=acc)
    total.zero_()
    if weights is None:
        for x in xs:
            total.add_(x)
    else:
        w = weights.to(acc)
        for i, x in enumerate(xs):
            total.addcmul_(x, w[i])
    if scale != 1.0:
        total.mul_(scale)
    if total is not out:
        out.copy_(total)
    return out


def weighted_sum(xs: list[torch.Tensor], weights: torch.Tensor | None) -> torch.Tensor:
    check_inputs("weighted_sum", xs, weights)
    return _scaled_sum(xs, weights, 1.0)


def weighted_mean(xs: list[torch.Tensor], weights: torch.Tensor | None) -> torch.Tensor:
    check_inputs("weighted_mean", xs, weights)
    return _scaled_sum(xs, weights, 1.0 / len(xs))


def weighted_concat(
    xs: list[torch.Tensor], weights: torch.Tensor | None, dim: int = 1
) -> torch.Tensor:
    dim = check_concat_inputs("weighted_concat", xs, weights, dim)
    out = xs[0].new_empty(concat_shape(xs, dim))
    pieces = out.split([x.shape[dim] for x in xs], dim)
    for i, (piece, x) in enumerate(zip(pieces, xs, strict=True)):
        if weights is None:
            piece.copy_(x)
        else:
            torch.mul(x, weights[i].to(accumulate_dtype(x.dtype)), out=piece)
    return out


# The *_out ops compute into a new tensor and copy it over: out may be one of the inputs.
def weighted_sum_out(
    xs: list[torch.Tensor], weights: torch.Tensor | None, out: torch.Tensor
) -> None:
    check_inputs("weighted_sum_out", xs, weights)
    check_out("weighted_sum_out", out, xs[0].shape, xs, may_be_input=True, contiguous=False)
    out.copy_(_scaled_sum(xs, weights, 1.0))


def weighted_mean_out(
    xs: list[torch.Tensor], weights: torch.Tensor | None, out: torch.Tensor
) -> None:
    check_inputs("weighted_mean_out", xs, weights)
    check_out("weighted_mean_out", out, xs[0].shape, xs, may_be_input=True, contiguous=False)
    out.copy_(_scaled_sum(xs, weights, 1.0 / len(xs)))


def weighted_concat_out(
    xs: list[torch.Tensor], weights: torch.Tensor | None, dim: int, out: torch.Tensor
) -> None:
    dim = check_concat_inputs("weighted_concat_out", xs, weights, dim)
    shape = concat_shape(xs, dim)
    check_out("weighted_concat_out", out, shape, xs, may_be_input=False, contiguous=True)
    out.copy_(weighted_concat(xs, weights, dim))


def _input_and_weight_grads(
    grad_pieces: Sequence[torch.Tensor],
    xs: Sequence[torch.Tensor],
    weights: torch.Tensor,
    scale: float,
    input_grads: bool,
    weight_grad: bool,
    alloc: Callable[[torch.Tensor], torch.Tensor],
) -> tuple[list[torch.Tensor], torch.Tensor]:
    """``grad x_i = scale·w_i·g_i`` and ``grad w_i = scale·<g_i, x_i>`` for pieces ``g_i``;
    ``alloc(g_i)`` makes the buffer of ``grad x_i`` in the layout the fake kernel predicts."""
    acc = accumulate_dtype(grad_pieces[0].dtype)
    w = weights.to(acc) * scale
    grads = []
    if input_grads:
        for i, piece in enumerate(grad_pieces):
            grads.append(torch.mul(piece, w[i], out=alloc(piece)))
    grad_w = weight_grad_output(weights, weight_grad)
    if weight_grad:
        for i, (piece, x) in enumerate(zip(grad_pieces, xs, strict=True)):
            dot = torch.dot(piece.reshape(-1).to(acc), x.reshape(-1).to(acc))
            grad_w[i] = dot * scale
    return grads, grad_w


def weighted_sum_backward(
    grad: torch.Tensor,
    xs: list[torch.Tensor],
    weights: torch.Tensor,
    scale: float,
    input_grads: bool,
    weight_grad: bool,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    check_backward("weighted_sum_backward", grad, xs, weights, weight_grad)
    pieces = [grad] * weights.shape[0]
    return _input_and_weight_grads(
        pieces, xs, weights, scale, input_grads, weight_grad, lambda g: new_output([g])
    )


def weighted_concat_backward(
    grad: torch.Tensor,
    xs: list[torch.Tensor],
    weights: torch.Tensor,
    dim: int,
    sizes: list[int],
    input_grads: bool,
    weight_grad: bool,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    check_concat_backward(grad, xs, weights, dim, sizes, weight_grad)
    pieces = grad.split(sizes, dim)
    return _input_and_weight_grads(
        pieces, xs, weights, 1.0, input_grads, weight_grad, lambda g: g.new_empty(g.shape)
    )


KERNELS: dict[str, Callable] = {
    "weighted_sum": weighted_sum,
    "weighted_mean": weighted_mean,
    "weighted_concat": weighted_concat,
    "weighted_sum_out": weighted_sum_out,
    "weighted_mean_out": weighted_mean_out,
    "weighted_concat_out": weighted_concat_out,
    "weighted_sum_backward": weighted_sum_backward,
    "weighted_concat_backward": weighted_concat_backward,
}
