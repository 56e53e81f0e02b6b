"""``SPOSSupernetTrainingMutator``: uniform random paths, optionally spread evenly over a flops
range, for training the SPOS supernet (Guo et al. 2020)."""

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from nasops.algorithms.random.mutator import RandomMutator

_logger = logging.getLogger("nasops.algorithms")


class SPOSSupernetTrainingMutator(RandomMutator):
    """A :class:`RandomMutator` that, given ``flops_func``, draws architectures uniformly over
    flops rather than over choices.

    The range ``[flops_lb, flops_ub]`` is cut into ``flops_bin_num`` equal bins. Each try picks
    a bin with ``np.random.randint`` and a random architecture; the first architecture whose
    flops lie in its try's bin is returned. Without a hit in ``flops_sample_timeout`` tries, a
    warning is logged and a plain random architecture is returned. Seed ``numpy`` (the bins)
    and ``torch`` (the architectures) to reproduce the draws; the order of the draws is NNI's.

    Args:
        model: the supernet.
        flops_func: called with a sampled architecture (key → bool mask), returns its flops;
            ``None`` turns the flops constraint off.
        flops_lb, flops_ub: the flops range (required with ``flops_func``).
        flops_bin_num: how many equal bins split the range; more bins are more uniform but
            take more tries.
        flops_sample_timeout: tries before falling back to an unconstrained sample.
    """

    def __init__(
        self,
        model: nn.Module,
        flops_func: Callable[[dict[str, torch.Tensor]], float] | None = None,
        flops_lb: float | None = None,
        flops_ub: float | None = None,
        flops_bin_num: int = 7,
        flops_sample_timeout: int = 500,
    ) -> None:
        super().__init__(model)
        self._flops_func = flops_func
        if flops_func is None:
            return
        if flops_lb is None or flops_ub is None or not flops_lb <= flops_ub:
            raise ValueError(
                "flops_lb and flops_ub must be numbers with flops_lb <= flops_ub when flops_func "
                f"is given, got flops_lb={flops_lb!r}, flops_ub={flops_ub!r}"
            )
        if not isinstance(flops_bin_num, int) or flops_bin_num < 1:
            raise ValueError(f"flops_bin_num must be an int >= 1, got {flops_bin_num!r}")
        if not isinstance(flops_sample_timeout, int) or flops_sample_timeout < 0:
            raise ValueError(
                f"flops_sample_timeout must be an int >= 0, got {flops_sample_timeout!r}"
            )
        self._flops_bin_num = flops_bin_num
        self._flops_bins = np.linspace(flops_lb, flops_ub, flops_bin_num + 1).tolist()
        self._flops_sample_timeout = flops_sample_timeout

    def sample_search(self) -> dict[str, Any]:
        """A random architecture; with ``flops_func``, one whose flops fall in a random bin."""
        if self._flops_func is None:
            return super().sample_search()
        for tries in range(1, self._flops_sample_timeout + 1):
            bin_index = np.random.randint(self._flops_bin_num)
            candidate = super().sample_search()
            flops = self._flops_func(candidate)
            low, high = self._flops_bins[bin_index], self._flops_bins[bin_index + 1]
            if low <= flops <= high:
                _logger.debug("Sampled a candidate of %s flops in %d tries.", flops, tries)
                return candidate
        _logger.warning(
            "Failed to sample a flops-valid candidate within %d tries.", self._flops_sample_timeout
        )
        return super().sample_search()

    def sample_final(self) -> dict[str, Any]:
        """A new sample, like :meth:`sample_search` (as in NNI: SPOS picks its final
        architecture by evolution, not from the mutator)."""
        return self.sample_search()
