"""``ShardSampler``: each rank's share of a dataset (or of some of its indices), reshuffled at
every pass the same way on every rank, like ``DistributedSampler`` with its epoch advanced by
each iteration (so endless streams and plain loaders both reshuffle without ``set_epoch``)."""

from collections.abc import Iterator, Sequence

import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from nasops.distributed._state import get_rank, get_world_size, is_distributed
from nasops.distributed.failure import collective


class ShardSampler(Sampler[int]):
    """Rank ``r`` of ``W`` reads positions ``r, r + W, ...`` of one permutation of ``indices``.

    The permutation of pass ``e`` is drawn from ``seed + e``; ``seed`` defaults to a number
    rank 0 draws from its torch generator, so the shuffles follow the user's seed on rank 0.
    The order is padded by repeating its start so every rank gets
    ``ceil(len(indices) / W)`` samples (every rank runs the same number of steps).

    Args:
        indices: the dataset positions to draw from (e.g. ``range(len(dataset))``).
        shuffle: a new permutation each pass; ``False`` keeps ``indices``' order.
        seed: see above.
    """

    def __init__(self, indices: Sequence[int], shuffle: bool = True, seed: int | None = None):
        if len(indices) == 0:
            raise ValueError("ShardSampler needs at least one index, got none")
        self.indices = list(indices)
        self.shuffle = shuffle
        self.rank, self.world = get_rank(), get_world_size()
        self.seed = _shared_seed() if seed is None else seed
        self.passes = 0

    def __len__(self) -> int:
        return -(-len(self.indices) // self.world)

    def __iter__(self) -> Iterator[int]:
        order = self.indices
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed + self.passes)
            order = [self.indices[i] for i in torch.randperm(len(order), generator=generator)]
        self.passes += 1
        total = len(self) * self.world
        padded = (order * (-(-total // len(order))))[:total]
        return iter(padded[self.rank :: self.world])


def _shared_seed() -> int:
    seed = [int(torch.randint(0, 2**31 - 1, ()).item())]
    if is_distributed():
        with collective("sharing rank 0's data shuffle seed"):
            dist.broadcast_object_list(seed, src=0)
    return seed[0]
