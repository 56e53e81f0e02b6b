"""Autograd for the forward ops, registered once for every backend.

The backward runs the ``*_backward`` ops, so it is one fused pass on whichever backend holds
the tensors. Inputs are saved only when the weight gradient is needed; without weights the
input gradient is ``g`` itself (sum), one shared ``g/K`` (mean) or views of ``g`` (concat).
"""

from typing import Any

import torch


def _setup_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
    xs, weights = inputs[0], inputs[1]
    ctx.num_inputs = len(xs)
    ctx.has_weights = weights is not None
    ctx.weight_grad = weights is not None and weights.requires_grad
    saved = [*xs] if ctx.weight_grad else []
    if weights is not None:
        saved.append(weights)
    ctx.save_for_backward(*saved)


def _setup_concat_context(ctx: Any, inputs: tuple, output: torch.Tensor) -> None:
    xs = inputs[0]
    # ``dim`` is absent when the caller left it at its default (see ``_concat_backward``).
    ctx.dim = (inputs[2] if len(inputs) > 2 else 1) % xs[0].dim()
    ctx.sizes = [x.shape[ctx.dim] for x in xs]
    _setup_context(ctx, inputs, output)


def _unpack(ctx: Any) -> tuple[list[torch.Tensor], torch.Tensor | None, bool]:
    saved = ctx.saved_tensors
    weights = saved[-1] if ctx.has_weights else None
    xs = list(saved[: ctx.num_inputs]) if ctx.weight_grad else []
    input_grads = any(ctx.needs_input_grad[0])
    return xs, weights, input_grads


def _input_grads(ctx: Any, grads: list[torch.Tensor], wanted: bool) -> list:
    # The list argument needs a list answer: one None per input when none needs a gradient.
    return grads if wanted else [None] * ctx.num_inputs


def _reduce_backward(ctx: Any, grad: torch.Tensor, scale: float) -> tuple:
    xs, weights, input_grads = _unpack(ctx)
    if weights is None:
        shared = grad if scale == 1.0 else grad * scale
        return [shared] * ctx.num_inputs, None
    grads, grad_w = torch.ops.nasops.weighted_sum_backward(
        grad, xs, weights, scale, input_grads, ctx.weight_grad
    )
    return _input_grads(ctx, grads, input_grads), (grad_w if ctx.weight_grad else None)


def _sum_backward(ctx: Any, grad: torch.Tensor) -> tuple:
    return _reduce_backward(ctx, grad, 1.0)


def _mean_backward(ctx: Any, grad: torch.Tensor) -> tuple:
    return _reduce_backward(ctx, grad, 1.0 / ctx.num_inputs)


def _concat_backward(ctx: Any, grad: torch.Tensor) -> tuple:
    xs, weights, input_grads = _unpack(ctx)
    if weights is None:
        grads, grad_w = list(grad.split(ctx.sizes, ctx.dim)), None
    else:
        grads, grad_w = torch.ops.nasops.weighted_concat_backward(
            grad, xs, weights, ctx.dim, ctx.sizes, input_grads, ctx.weight_grad
        )
        grads = _input_grads(ctx, grads, input_grads)
        grad_w = grad_w if ctx.weight_grad else None
    # The dispatcher drops a trailing ``dim`` equal to its default: answer one gradient per
    # argument actually passed.
    return (grads, grad_w, None)[: len(ctx.needs_input_grad)]


def register() -> None:
    """Register autograd for the three forward ops (called once, on import)."""
    reg = torch.library.register_autograd
    reg("nasops::weighted_sum", _sum_backward, setup_context=_setup_context)
    reg("nasops::weighted_mean", _mean_backward, setup_context=_setup_context)
    reg("nasops::weighted_concat", _concat_backward, setup_context=_setup_concat_context)
