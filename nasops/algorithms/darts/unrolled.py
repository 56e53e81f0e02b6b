"""DARTS' second-order architecture gradient, on weights passed to the model functionally.

The architecture gradient of DARTS (Liu et al. 2019, eq. 7-8; quark0/darts ``Architect``) is

    ∇α L_val(w', α) − ξ · ∇²_{α,w} L_train(w, α) · ∇w' L_val(w', α),

where ``w' = w − ξ(μ·m + ∇w L_train(w, α) + λ·w)`` is one virtual SGD step (learning rate ξ,
momentum μ with buffer m, weight decay λ). The Hessian-vector product is taken by central
differences. Neither the model nor its weights are copied or overwritten: every evaluation at
other weights goes through ``torch.func.functional_call`` (see :data:`LossAt`).
"""

from collections.abc import Callable, Sequence

import torch

Weights = dict[str, torch.Tensor]
#: ``loss_at(weights, X, y)``: the loss of the model evaluated with ``weights`` in place of its
#: parameters, on a freshly sampled architecture (so that the loss depends on α).
LossAt = Callable[[Weights, torch.Tensor, torch.Tensor], torch.Tensor]


def virtual_step(
    weights: Weights,
    grads: Sequence[torch.Tensor | None],
    lr: float,
    momentum: float,
    weight_decay: float,
    momentum_buffers: Sequence[torch.Tensor | None],
) -> Weights:
    """``w' = w − lr·(momentum·m + g + weight_decay·w)`` per weight: SGD's next step.

    A missing gradient (an unused weight) or momentum buffer counts as zero. The result is
    detached from ``weights`` and requires grad, so ``∇w' L_val`` can be taken.
    """
    virtual = {}
    for (name, w), g, m in zip(weights.items(), grads, momentum_buffers, strict=True):
        w = w.detach()
        direction = weight_decay * w
        if g is not None:
            direction = direction + g
        if m is not None:
            direction = direction + momentum * m
        virtual[name] = (w - lr * direction).requires_grad_()
    return virtual


def hessian_vector_product(
    loss_at: LossAt,
    weights: Weights,
    vector: Sequence[torch.Tensor],
    alphas: list[torch.Tensor],
    X: torch.Tensor,
    y: torch.Tensor,
    r: float = 0.01,
) -> list[torch.Tensor]:
    """``∇²_{α,w} L(w, α) · v ≈ (∇α L(w + εv) − ∇α L(w − εv)) / 2ε``, ``ε = r / ‖v‖``.

    ``vector`` aligns with ``weights``. A zero vector gives a zero product (ε is kept finite).
    """
    norm = torch.cat([v.reshape(-1) for v in vector]).norm()
    eps = r / norm.clamp_min(torch.finfo(norm.dtype).tiny)
    grads = []
    for sign in (1.0, -1.0):
        shifted = {
            name: w.detach() + (sign * eps) * v
            for (name, w), v in zip(weights.items(), vector, strict=True)
        }
        loss = loss_at(shifted, X, y)
        grads.append(grads_or_zeros(torch.autograd.grad(loss, alphas, allow_unused=True), alphas))
    plus, minus = grads
    return [(p - n) / (2 * eps) for p, n in zip(plus, minus, strict=True)]


def grads_or_zeros(
    grads: Sequence[torch.Tensor | None], inputs: Sequence[torch.Tensor]
) -> list[torch.Tensor]:
    """``autograd.grad(..., allow_unused=True)``'s result with ``None`` replaced by zeros."""
    return [torch.zeros_like(x) if g is None else g for g, x in zip(grads, inputs, strict=True)]
