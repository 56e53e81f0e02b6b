"""The best composition of stock PyTorch ops: pre-allocated buffers, ``out=`` and in-place ops.

This is what a careful user gets without a fused kernel: no temporaries, but K passes over the
output (forward) and a separate pass per gradient (backward). It cannot run under autograd
(``out=`` does not record a graph), so its forward+backward is written by hand with the same
gradients as the fused op: ``grad x_i = w_i·g`` and ``grad w_i = <g, x_i>``. The weights are
Python floats, converted once outside the timed region.
"""

from collections.abc import Callable

import torch


def _scales(w: torch.Tensor, reduction: str, k: int) -> list[float]:
    scale = 1.0 / k if reduction == "mean" else 1.0
    return [float(v) * scale for v in w.tolist()]


def forward(reduction: str, xs: list[torch.Tensor], w: torch.Tensor) -> Callable[[], torch.Tensor]:
    """A call computing the reduction into one buffer allocated here, once."""
    ws = _scales(w, reduction, len(xs))
    if reduction == "concat":
        out = torch.empty(_concat_shape(xs), dtype=xs[0].dtype, device=xs[0].device)
        pieces = out.split([x.shape[1] for x in xs], 1)

        def concat() -> torch.Tensor:
            for piece, x, wi in zip(pieces, xs, ws, strict=True):
                torch.mul(x, wi, out=piece)
            return out

        return concat

    out = torch.empty_like(xs[0])

    def accumulate() -> torch.Tensor:
        torch.mul(xs[0], ws[0], out=out)
        for x, wi in zip(xs[1:], ws[1:], strict=True):
            out.add_(x, alpha=wi)
        return out

    return accumulate


def forward_backward(
    reduction: str, xs: list[torch.Tensor], w: torch.Tensor, grad: torch.Tensor
) -> Callable[[], None]:
    """A call running the forward, then the backward for ``grad`` into buffers allocated once."""
    ws = _scales(w, reduction, len(xs))
    run_forward = forward(reduction, xs, w)
    grads = [torch.empty_like(x) for x in xs]
    grad_w = torch.empty(len(xs), dtype=torch.float32, device=xs[0].device)
    scale = 1.0 / len(xs) if reduction == "mean" else 1.0
    if reduction == "concat":
        pieces = grad.split([x.shape[1] for x in xs], 1)
        scratch = torch.empty_like(xs[0])  # the pieces are strided: no torch.dot on them
    else:
        pieces = [grad] * len(xs)

    def call() -> None:
        run_forward()
        for i, (piece, x, wi) in enumerate(zip(pieces, xs, ws, strict=True)):
            torch.mul(piece, wi, out=grads[i])
            if reduction == "concat":
                grad_w[i] = torch.mul(piece, x, out=scratch).sum()
            else:
                grad_w[i] = torch.dot(piece.reshape(-1), x.reshape(-1)) * scale

    return call


def _concat_shape(xs: list[torch.Tensor]) -> list[int]:
    shape = list(xs[0].shape)
    shape[1] = sum(x.shape[1] for x in xs)
    return shape
