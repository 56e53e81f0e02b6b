"""Autograd for the forward ops, registered once at the Autograd key for every backend.

A lean ``torch.autograd.Function`` per op family rather than ``torch.library.register_autograd``:
the generic wrapper flattens every call through pytrees and costs ~25 µs more per call, which
dominates the many small reductions of a supernet. The ops are called by their ``.default``
overload, which skips the overload resolution of ``torch.ops.nasops.<op>(...)``. Calls that
need no gradient go straight to the backend kernel. ``nasops.ops`` calls the three kernels
below directly (one boxing of the tensor list instead of three); ``torch.ops.nasops`` and
torch.compile reach them through the dispatcher's Autograd key. The backward runs the
``*_backward`` ops: one fused pass on the backend that holds the tensors. Inputs are saved only
when the weight gradient is needed; without weights the input gradient is ``g`` itself (sum),
one shared ``g/K`` (mean) or views of ``g`` (concat). Under ``create_graph=True`` the backward
is written in stock differentiable ops instead (same formulas), so second-order gradients
(DARTS' exact unrolled gradient, gradgradcheck) are right rather than silently zero.
"""

from typing import Any

import torch

_below_autograd = torch._C._AutoDispatchBelowAutograd
_ops = torch.ops.nasops


def _needs_grad(xs: list[torch.Tensor], weights: torch.Tensor | None) -> bool:
    if not torch.is_grad_enabled():
        return False
    return (weights is not None and weights.requires_grad) or any(x.requires_grad for x in xs)


def _save(ctx: Any, xs: tuple[torch.Tensor, ...], weights: torch.Tensor | None) -> None:
    ctx.num_inputs = len(xs)
    ctx.has_weights = weights is not None
    ctx.weight_grad = weights is not None and weights.requires_grad
    saved = [*xs] if ctx.weight_grad else []
    if weights is not None:
        saved.append(weights)
    ctx.save_for_backward(*saved)


def _saved(ctx: Any) -> tuple[list[torch.Tensor], torch.Tensor | None, bool]:
    """The saved inputs (empty unless the weight gradient is wanted), the weights, and
    whether any input needs a gradient. Inputs follow ``weights`` in ``needs_input_grad``."""
    saved = ctx.saved_tensors
    weights = saved[-1] if ctx.has_weights else None
    xs = list(saved[: ctx.num_inputs]) if ctx.weight_grad else []
    return xs, weights, any(ctx.needs_input_grad[-ctx.num_inputs :])


def _accumulator(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def _dots(grads: list[torch.Tensor], xs: list[torch.Tensor], weights: torch.Tensor) -> torch.Tensor:
    """``<g_i, x_i>`` for each pair, accumulated as the kernels do, in the weights' dtype."""
    pairs = zip(grads, xs, strict=True)
    dots = [(g.to(_accumulator(x)) * x.to(_accumulator(x))).sum() for g, x in pairs]
    return torch.stack(dots).to(weights.dtype)


def _graph_backward(
    grads: list[torch.Tensor],
    xs: list[torch.Tensor],
    weights: torch.Tensor,
    scale: float,
    weight_grad: bool,
) -> tuple[list[torch.Tensor], torch.Tensor | None]:
    """The backward in differentiable stock ops (``create_graph=True``): ``grads[i]`` is the
    incoming gradient of input ``i`` (all ``g`` for sum/mean, ``g``'s slices for concat)."""
    w = weights.to(grads[0].dtype) * scale
    grad_xs = [g * w[i] for i, g in enumerate(grads)]
    grad_w = _dots(grads, xs, weights) * scale if weight_grad else None
    return grad_xs, grad_w


class _ScaledSum(torch.autograd.Function):
    """weighted_sum (scale 1) and weighted_mean (scale 1/K)."""

    @staticmethod
    def forward(ctx: Any, op: Any, scale: float, weights: Any, *xs: torch.Tensor) -> torch.Tensor:
        with _below_autograd():
            out = op(list(xs), weights)
        ctx.scale = scale
        _save(ctx, xs, weights)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        xs, weights, input_grads = _saved(ctx)
        if weights is None:
            shared = grad if ctx.scale == 1.0 else grad * ctx.scale
            return (None, None, None, *([shared] * ctx.num_inputs))
        if torch.is_grad_enabled():
            grads, grad_w = _graph_backward(
                [grad] * ctx.num_inputs, xs, weights, ctx.scale, ctx.weight_grad
            )
        else:
            grads, grad_w = _ops.weighted_sum_backward.default(
                grad, xs, weights, ctx.scale, input_grads, ctx.weight_grad
            )
        grads = grads if input_grads else [None] * ctx.num_inputs
        return (None, None, grad_w if ctx.weight_grad else None, *grads)


class _Concat(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, dim: int, weights: Any, *xs: torch.Tensor) -> torch.Tensor:
        with _below_autograd():
            out = _ops.weighted_concat.default(list(xs), weights, dim)
        ctx.dim = dim % out.dim()  # valid: the forward op has checked it
        ctx.sizes = [x.shape[ctx.dim] for x in xs]
        _save(ctx, xs, weights)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        xs, weights, input_grads = _saved(ctx)
        if weights is None:
            return (None, None, *grad.split(ctx.sizes, ctx.dim))
        if torch.is_grad_enabled():
            pieces = list(grad.split(ctx.sizes, ctx.dim))
            grads, grad_w = _graph_backward(pieces, xs, weights, 1.0, ctx.weight_grad)
        else:
            grads, grad_w = _ops.weighted_concat_backward.default(
                grad, xs, weights, ctx.dim, ctx.sizes, input_grads, ctx.weight_grad
            )
        grads = grads if input_grads else [None] * ctx.num_inputs
        return (None, grad_w if ctx.weight_grad else None, *grads)


def weighted_sum(xs: list[torch.Tensor], weights: torch.Tensor | None) -> torch.Tensor:
    if _needs_grad(xs, weights):
        return _ScaledSum.apply(_ops.weighted_sum.default, 1.0, weights, *xs)
    with _below_autograd():
        return _ops.weighted_sum.default(xs, weights)


def weighted_mean(xs: list[torch.Tensor], weights: torch.Tensor | None) -> torch.Tensor:
    if _needs_grad(xs, weights):
        return _ScaledSum.apply(_ops.weighted_mean.default, 1.0 / len(xs), weights, *xs)
    with _below_autograd():
        return _ops.weighted_mean.default(xs, weights)


def weighted_concat(
    xs: list[torch.Tensor], weights: torch.Tensor | None, dim: int = 1
) -> torch.Tensor:
    if _needs_grad(xs, weights):
        return _Concat.apply(dim, weights, *xs)
    with _below_autograd():
        return _ops.weighted_concat.default(xs, weights, dim)


def _no_grad_out(name: str):
    """The Autograd kernel of a ``*_out`` op: like torch's out= functions, it records no graph,
    so it refuses inputs that require grad rather than silently dropping their gradient."""
    op = getattr(_ops, name).default

    def kernel(*args: Any) -> None:
        xs, weights, out = args[0], args[1], args[-1]
        if _needs_grad(xs, weights) or (torch.is_grad_enabled() and out.requires_grad):
            raise RuntimeError(
                f"nasops.{name}: out= does not support autograd, but an input or out requires "
                "grad; call it without out=, or under torch.no_grad()"
            )
        with _below_autograd():
            op(*args)

    return kernel


OUT_OPS = ("weighted_sum_out", "weighted_mean_out", "weighted_concat_out")
# name -> the Autograd kernel of that *_out op, filled by register(); nasops.ops calls these
# directly, as it does the three kernels above.
OUT_KERNELS: dict[str, Any] = {}


def register(lib: torch.library.Library) -> None:
    """Register the autograd kernels of the forward ops (called once, on import)."""
    lib.impl("weighted_sum", weighted_sum, "Autograd")
    lib.impl("weighted_mean", weighted_mean, "Autograd")
    lib.impl("weighted_concat", weighted_concat, "Autograd")
    for name in OUT_OPS:
        OUT_KERNELS[name] = _no_grad_out(name)
        lib.impl(name, OUT_KERNELS[name], "Autograd")
