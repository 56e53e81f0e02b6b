"""Output allocation rules shared by the fake kernels, the fallback and (mirrored) the C++ kernels.

The fake kernel must predict the real kernels' strides exactly, so the rule lives in one place:
an output copies the inputs' layout when they all share one dense layout (e.g. channels_last),
and is contiguous otherwise. Concatenations are always contiguous.
"""

from collections.abc import Sequence

import torch


def accumulate_dtype(dtype: torch.dtype) -> torch.dtype:
    """Half types accumulate in float32, float64 in float64, float32 in float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def is_dense(t: torch.Tensor) -> bool:
    """Whether ``t`` covers its memory exactly once in some dimension order (C++'s
    ``is_non_overlapping_and_dense``): size-1 dimensions are ignored, the rest must pack."""
    expected = 1
    for d in sorted((d for d in range(t.dim()) if t.shape[d] != 1), key=t.stride):
        if t.stride(d) != expected:
            return False
        expected *= t.shape[d]
    return True


def new_output(xs: Sequence[torch.Tensor]) -> torch.Tensor:
    """An uninitialised tensor shaped like ``xs[0]`` in the layout the kernels write."""
    ref = xs[0]
    shared = all(x.stride() == ref.stride() for x in xs)
    if shared and is_dense(ref):
        return torch.empty_like(ref, memory_format=torch.preserve_format)
    return torch.empty(ref.shape, dtype=ref.dtype, device=ref.device)


def concat_shape(xs: Sequence[torch.Tensor], dim: int) -> list[int]:
    """The shape of ``cat(xs, dim)`` for inputs already validated (``dim`` non-negative)."""
    shape = list(xs[0].shape)
    shape[dim] = sum(x.shape[dim] for x in xs)
    return shape


def weight_grad_output(weights: torch.Tensor, weight_grad: bool) -> torch.Tensor:
    """The weight-gradient output: one entry per input, or empty when it is not wanted."""
    return weights.new_empty(weights.shape[0] if weight_grad else 0)
