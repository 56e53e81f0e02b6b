"""Where this process stands in ``torch.distributed``: active or not, its rank, the world size."""

import torch.distributed as dist


def is_distributed() -> bool:
    """A process group is initialized with more than one rank (only then does nasops sync)."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def get_rank() -> int:
    """This process' rank; 0 without a process group."""
    return dist.get_rank() if dist.is_available() and dist.is_initialized() else 0


def get_world_size() -> int:
    """How many ranks take part; 1 without a process group."""
    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that writes files and shows progress."""
    return get_rank() == 0
