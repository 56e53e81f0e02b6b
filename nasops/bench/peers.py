"""The peers' reductions, written exactly as each peer writes it (one implementation each).

Every function takes the candidate outputs ``xs`` and the 1-D weight tensor ``w`` (the
softmaxed architecture parameters) and is differentiable, so the same code is timed forward
and forward+backward. Sources: ``reference/performance_and_peers.md`` §1.

NNI v1's ``_select_with_mask`` and mmrazor's ``DiffMutableOP`` also test each weight on the
host (``if m``, ``if prob > 0.``) before multiplying; that test is left out here, which
favours the peers (on CUDA it is a device-to-host sync per branch).
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch

Reduction = Callable[[list[torch.Tensor], torch.Tensor], torch.Tensor]


def python_sum(xs: list[torch.Tensor], w: torch.Tensor) -> torch.Tensor:
    """DARTS ``MixedOp``: ``sum(w * op(x) for w, op in zip(weights, self._ops))``.

    NNI v1 ``_tensor_reduction("sum")`` and mmrazor ``DiffMutableOP`` build the same list of
    ``w_i * x_i`` (0-d weight tensors) and reduce it with the builtin ``sum``.
    """
    return sum(wi * xi for wi, xi in zip(w, xs, strict=True))


def stack_sum(xs: list[torch.Tensor], w: torch.Tensor) -> torch.Tensor:
    """NNI 2.1–2.10 retiarii ``DartsLayerChoice``: stack, broadcast-multiply, sum over dim 0."""
    op_results = torch.stack(xs)
    alpha_shape = [-1] + [1] * (len(op_results.size()) - 1)
    return torch.sum(op_results * w.view(*alpha_shape), 0)


def nni3_loop(xs: list[torch.Tensor], w: torch.Tensor) -> torch.Tensor:
    """NNI 2.8+/3.x ``_expression_utils.weighted_sum``: ``res = x0*w0``, then ``res + x_i*w_i``."""
    res = xs[0] * w[0]
    for it, weight in zip(xs[1:], w[1:], strict=True):
        res = res + it * weight
    return res


def python_mean(xs: list[torch.Tensor], w: torch.Tensor) -> torch.Tensor:
    """NNI v1 ``_tensor_reduction("mean")``: ``sum(list) / len(list)`` over the ``w_i * x_i``."""
    tensor_list = [xi * wi for xi, wi in zip(xs, w, strict=True)]
    return sum(tensor_list) / len(tensor_list)


def python_cat(xs: list[torch.Tensor], w: torch.Tensor) -> torch.Tensor:
    """NNI v1 ``_tensor_reduction("concat")``: ``torch.cat(list, dim=1)`` over the ``w_i * x_i``."""
    return torch.cat([xi * wi for xi, wi in zip(xs, w, strict=True)], dim=1)


@dataclass(frozen=True)
class Peer:
    """One peer reduction: a JSON name, the expression as the peer writes it, who writes it."""

    name: str
    label: str
    used_by: str
    fn: Reduction


PEERS: dict[str, tuple[Peer, ...]] = {
    "sum": (
        Peer("python_sum", "sum(w_i*x_i)", "NNI v1, mmrazor, DARTS", python_sum),
        Peer("stack_sum", "(stack(xs)*w.view(-1,1,..)).sum(0)", "NNI 2.1-2.10", stack_sum),
        Peer("nni3_loop", "res = x0*w0; res = res + x_i*w_i", "NNI 2.8+/3.x", nni3_loop),
    ),
    "mean": (Peer("python_mean", "sum(w_i*x_i)/len(xs)", "NNI v1", python_mean),),
    "concat": (Peer("python_cat", "cat([w_i*x_i], dim=1)", "NNI v1", python_cat),),
}
