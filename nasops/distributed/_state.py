"""Where this process stands in ``torch.distributed``: active or not, its rank, the world size."""

import contextlib
from collections.abc import Iterator

import torch.distributed as dist

_local_only = False


def is_distributed() -> bool:
    """A process group is initialized with more than one rank (only then does nasops sync),
    and no :func:`local_only` block is running."""
    return (
        not _local_only
        and dist.is_available()
        and dist.is_initialized()
        and dist.get_world_size() > 1
    )


@contextlib.contextmanager
def local_only() -> Iterator[None]:
    """Work on this rank alone inside the block (nasops makes no collective there), e.g. when
    rank 0 retrains the found architecture after a distributed search."""
    global _local_only
    previous, _local_only = _local_only, True
    try:
        yield
    finally:
        _local_only = previous


def get_rank() -> int:
    """This process' rank; 0 without a process group."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """How many ranks take part; 1 without a process group."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that writes files and shows progress."""
    return get_rank() == 0
