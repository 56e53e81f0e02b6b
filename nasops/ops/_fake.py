"""Fake (meta) kernels: shapes, dtypes and strides of every ``nasops::`` op, for torch.compile.

They validate exactly as the real kernels do, because meta tensors and mixed-device misuse
dispatch here rather than to a real kernel.
"""

import torch

from nasops.ops._layout import concat_shape, new_output, weight_grad_output
from nasops.ops._validation import (
    check_backward,
    check_concat_backward,
    check_concat_inputs,
    check_inputs,
    check_out,
)


def _weighted_sum(xs: list[torch.Tensor], weights: torch.Tensor | None) -> torch.Tensor:
    check_inputs("weighted_sum", xs, weights)
    return new_output(xs)


def _weighted_mean(xs: list[torch.Tensor], weights: torch.Tensor | None) -> torch.Tensor:
    check_inputs("weighted_mean", xs, weights)
    return new_output(xs)


def _weighted_concat(
    xs: list[torch.Tensor], weights: torch.Tensor | None, dim: int = 1
) -> torch.Tensor:
    dim = check_concat_inputs("weighted_concat", xs, weights, dim)
    return xs[0].new_empty(concat_shape(xs, dim))


def _sum_out(op: str):
    def fake(xs: list[torch.Tensor], weights: torch.Tensor | None, out: torch.Tensor) -> None:
        check_inputs(op, xs, weights)
        shape = xs[0].shape
        check_out(op, out, shape, xs, may_be_input=True, contiguous=False, memory=False)

    return fake


def _weighted_concat_out(
    xs: list[torch.Tensor], weights: torch.Tensor | None, dim: int, out: torch.Tensor
) -> None:
    op = "weighted_concat_out"
    dim = check_concat_inputs(op, xs, weights, dim)
    shape = concat_shape(xs, dim)
    check_out(op, out, shape, xs, may_be_input=False, contiguous=True, memory=False)


def _weighted_sum_backward(
    grad: torch.Tensor,
    xs: list[torch.Tensor],
    weights: torch.Tensor,
    scale: float,
    input_grads: bool,
    weight_grad: bool,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    check_backward("weighted_sum_backward", grad, xs, weights, weight_grad)
    grads = [new_output([grad]) for _ in range(weights.shape[0])] if input_grads else []
    return grads, weight_grad_output(weights, weight_grad)


def _weighted_concat_backward(
    grad: torch.Tensor,
    xs: list[torch.Tensor],
    weights: torch.Tensor,
    dim: int,
    sizes: list[int],
    input_grads: bool,
    weight_grad: bool,
) -> tuple[list[torch.Tensor], torch.Tensor]:
    check_concat_backward(grad, xs, weights, dim, sizes, weight_grad)
    grads = (
        [piece.new_empty(piece.shape) for piece in grad.split(sizes, dim)] if input_grads else []
    )
    return grads, weight_grad_output(weights, weight_grad)


def register() -> None:
    """Register every fake kernel (called once, when ``nasops.ops`` is imported)."""
    torch.library.register_fake("nasops::weighted_sum", _weighted_sum)
    torch.library.register_fake("nasops::weighted_mean", _weighted_mean)
    torch.library.register_fake("nasops::weighted_concat", _weighted_concat)
    torch.library.register_fake("nasops::weighted_sum_out", _sum_out("weighted_sum_out"))
    torch.library.register_fake("nasops::weighted_mean_out", _sum_out("weighted_mean_out"))
    torch.library.register_fake("nasops::weighted_concat_out", _weighted_concat_out)
    torch.library.register_fake("nasops::weighted_sum_backward", _weighted_sum_backward)
    torch.library.register_fake("nasops::weighted_concat_backward", _weighted_concat_backward)
