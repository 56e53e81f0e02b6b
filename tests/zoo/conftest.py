"""Zoo tests run their tiny models on one thread."""

from collections.abc import Iterator

import pytest
import torch


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    """Batch-2, 8x8 convolutions gain nothing from threads, and on a busy machine OpenMP's
    hand-offs cost them seconds per step (measured: 0.08 s vs 5 s a step on two loaded cores)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
