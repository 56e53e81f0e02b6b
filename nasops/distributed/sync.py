"""Keeping weights and architecture parameters identical across ranks.

Parameters and buffers start from rank 0's values (:func:`broadcast_module`); after each
backward the gradients that exist are averaged over the ranks (:func:`average_gradients`).
Since every rank runs the same architecture, the same parameters have gradients everywhere, so
only the active candidates' gradients travel, in one flat buffer per dtype and device (no
``find_unused_parameters`` graph walk). :func:`sync_optimizer` does the averaging just before
an optimizer's ``step()``, for optimizers whose gradients no trainer code averaged earlier.
"""

from collections.abc import Callable, Iterable

import torch
import torch.distributed as dist
from torch import nn
from torch._utils import _flatten_dense_tensors, _unflatten_dense_tensors

from nasops.distributed._state import get_world_size, is_distributed
from nasops.distributed.failure import collective

BUCKET_ELEMENTS = 1 << 24  # 64 MiB of float32 per collective at most
_HOOKED = "_nasops_grad_sync_hooked"
_AVERAGED = "_nasops_grads_averaged"


def broadcast_module(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s parameters and buffers into ``module`` on every rank."""
    if not is_distributed():
        return
    tensors = [t.data for t in module.parameters()] + list(module.buffers())
    with collective(f"broadcasting {type(module).__name__}'s parameters from rank {src}"):
        _coalesced(tensors, lambda flat: dist.broadcast(flat, src))


def broadcast_buffers(module: nn.Module, src: int = 0) -> None:
    """Copy rank ``src``'s buffers (e.g. BatchNorm statistics) into ``module`` on every rank."""
    if not is_distributed():
        return
    with collective(f"broadcasting {type(module).__name__}'s buffers from rank {src}"):
        _coalesced(list(module.buffers()), lambda flat: dist.broadcast(flat, src))


def average_gradients(parameters: Iterable[torch.Tensor]) -> None:
    """Replace each existing gradient by its mean over the ranks (dense gradients only)."""
    if not is_distributed():
        return
    grads = [p.grad for p in parameters if p.grad is not None]
    if any(g.is_sparse for g in grads):
        raise TypeError("nasops.distributed.average_gradients: sparse gradients are not supported")
    world = get_world_size()

    def reduce(flat: torch.Tensor) -> None:
        dist.all_reduce(flat)
        flat.div_(world)

    with collective("averaging gradients"):
        _coalesced(grads, reduce)


def sync_optimizer(optimizer: torch.optim.Optimizer) -> None:
    """Average the gradients of ``optimizer``'s parameters before each of its steps, unless
    :func:`average_before_step` already did since the last step. Registering twice is a no-op."""
    if getattr(optimizer, _HOOKED, False):
        return

    def pre_step(opt: torch.optim.Optimizer, args: object, kwargs: object) -> None:
        if not getattr(opt, _AVERAGED, False):
            average_gradients(_parameters(opt))
        setattr(opt, _AVERAGED, False)

    optimizer.register_step_pre_hook(pre_step)
    setattr(optimizer, _HOOKED, True)


def average_before_step(optimizer: torch.optim.Optimizer) -> None:
    """Average ``optimizer``'s gradients now (e.g. before clipping them, as DDP would have), so
    its next ``step()`` does not average them again."""
    if not is_distributed():
        return
    average_gradients(_parameters(optimizer))
    setattr(optimizer, _AVERAGED, True)


def _parameters(optimizer: torch.optim.Optimizer) -> list[torch.Tensor]:
    return [p for group in optimizer.param_groups for p in group["params"]]


def _coalesced(tensors: list[torch.Tensor], run: Callable[[torch.Tensor], None]) -> None:
    """``run(flat)`` on flat buffers of ``tensors`` grouped by device and dtype (and cut into
    buckets of :data:`BUCKET_ELEMENTS`), then the results copied back."""
    groups: dict[tuple[torch.device, torch.dtype], list[torch.Tensor]] = {}
    for tensor in tensors:
        groups.setdefault((tensor.device, tensor.dtype), []).append(tensor)
    for group in groups.values():
        for bucket in _buckets(group):
            flat = _flatten_dense_tensors(bucket)
            run(flat)
            for tensor, synced in zip(bucket, _unflatten_dense_tensors(flat, bucket), strict=True):
                tensor.copy_(synced)


def _buckets(tensors: list[torch.Tensor]) -> Iterable[list[torch.Tensor]]:
    bucket: list[torch.Tensor] = []
    size = 0
    for tensor in tensors:
        if bucket and size + tensor.numel() > BUCKET_ELEMENTS:
            yield bucket
            bucket, size = [], 0
        bucket.append(tensor)
        size += tensor.numel()
    if bucket:
        yield bucket
