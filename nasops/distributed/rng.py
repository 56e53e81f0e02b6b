"""One random stream for architecture sampling, identical on every rank.

Each rank keeps its own generators for everything else (dropout, data augmentation, loader
shuffles). While a mutator samples, :func:`architecture_rng` swaps in a second set of states
(torch CPU, the current CUDA device's, numpy's and Python's global generators) that rank 0 sent
once, on the first use; afterwards the ranks advance it alike, since sampling is a function of
that stream and of the architecture parameters, which are kept identical too. So every rank
draws rank 0's architecture with no collective per step, and samples that carry a graph (GDAS'
Gumbel weights, ENAS' log-probabilities) keep it.
"""

import contextlib
import functools
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch import nn

from nasops.distributed._state import is_distributed
from nasops.distributed.failure import collective
from nasops.distributed.sync import broadcast_module

T = TypeVar("T")
_STREAM = "_nasops_architecture_rng"
_ACTIVE = "_nasops_architecture_rng_active"


@dataclass
class RngStates:
    """The global generators' states; ``cuda`` is the current device's (``None``: CUDA unused)."""

    cpu: torch.Tensor
    cuda: torch.Tensor | None
    numpy: Any
    python: Any

    @classmethod
    def capture(cls) -> "RngStates":
        cuda = None
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            cuda = torch.cuda.get_rng_state()
        return cls(torch.get_rng_state(), cuda, np.random.get_state(), random.getstate())

    def restore(self) -> None:
        torch.set_rng_state(self.cpu)
        if self.cuda is not None:
            torch.cuda.set_rng_state(self.cuda)
        np.random.set_state(self.numpy)
        random.setstate(self.python)


@contextlib.contextmanager
def architecture_rng(owner: object) -> Iterator[None]:
    """Sample inside this block to draw the same architecture on every rank.

    ``owner`` (the mutator) keeps the shared stream. On first use, the mutator (and an NNI
    mutator's model) also take rank 0's parameters and buffers, as DDP's wrapper does, so that
    sampling reads the same architecture parameters everywhere. Without a process group of two
    or more ranks this does nothing. Nested blocks for one owner share the outer one's stream.
    """
    if not is_distributed() or owner.__dict__.get(_ACTIVE):
        yield
        return
    own = RngStates.capture()
    shared: RngStates | None = owner.__dict__.get(_STREAM)
    if shared is None or (shared.cuda is None) != (own.cuda is None):
        if shared is None:
            _share_architecture_parameters(owner)
        shared = _from_rank0(own)
    shared.restore()
    owner.__dict__[_ACTIVE] = True
    try:
        yield
    finally:
        owner.__dict__[_ACTIVE] = False
        owner.__dict__[_STREAM] = RngStates.capture()
        own.restore()


def _share_architecture_parameters(owner: object) -> None:
    """Rank 0's values of what sampling reads: the mutator's parameters and buffers and, for an
    NNI mutator, its model's (ProxylessNAS keeps its logits there)."""
    model = owner.__dict__.get("model")
    for module in (owner, model):
        if isinstance(module, nn.Module):
            broadcast_module(module)


def _from_rank0(own: RngStates) -> RngStates:
    """Rank 0's states on every rank (one collective)."""
    box: list[Any] = [own]
    with collective("sharing rank 0's architecture random stream"):
        dist.broadcast_object_list(box, src=0)
    return box[0]


def sampled_alike(method: Callable[..., T]) -> Callable[..., T]:
    """Decorate a mutator's sampling method to run it inside :func:`architecture_rng`."""

    @functools.wraps(method)
    def wrapper(self: object, *args: Any, **kwargs: Any) -> T:
        with architecture_rng(self):
            return method(self, *args, **kwargs)

    return wrapper
