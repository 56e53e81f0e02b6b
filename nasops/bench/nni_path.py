"""NNI v2.8's reduction path as a mutator mixin: the baseline of the mutables and supernet benches.

``Mutator.on_forward_*`` of NNI: ``_select_with_mask`` tests every mask element on the host
(``if m``: a device sync per element for a CUDA mask) and multiplies each selected output by its
weight (``x * m``), then ``_tensor_reduction`` adds them with Python ``sum``.
"""

from collections.abc import Callable
from typing import Any

import torch

from nasops.mutables import InputChoice, LayerChoice


class NNIPathReduction:
    """Put before a :class:`nasops.mutator.Mutator` subclass: its masks, reduced NNI's way."""

    _cache: dict[str, Any]

    def on_forward_layer_choice(self, mutable: LayerChoice, *args: Any, **kwargs: Any) -> Any:
        mask = self._cache[mutable.key]
        assert len(mask) == len(mutable)
        out, mask = self._nni_select(
            lambda op, a, k: op(*a, **k), [(op, args, kwargs) for op in mutable], mask
        )
        return self._nni_reduce(mutable.reduction, out), mask

    def on_forward_input_choice(self, mutable: InputChoice, tensor_list: list) -> Any:
        mask = self._cache[mutable.key]
        assert len(mask) == mutable.n_candidates
        out, mask = self._nni_select(lambda x: x, [(t,) for t in tensor_list], mask)
        return self._nni_reduce(mutable.reduction, out), mask

    @staticmethod
    def _nni_select(map_fn: Callable, candidates: list, mask: torch.Tensor) -> tuple:
        if "BoolTensor" in mask.type():
            out = [map_fn(*cand) for cand, m in zip(candidates, mask, strict=False) if m]
        elif "FloatTensor" in mask.type():
            out = [map_fn(*cand) * m for cand, m in zip(candidates, mask, strict=False) if m]
        else:
            raise ValueError(f"Unrecognized mask '{mask}'")
        return out, mask

    @staticmethod
    def _nni_reduce(reduction: str, tensors: list) -> Any:
        if reduction == "none":
            return tensors
        if not tensors:
            return None
        if len(tensors) == 1:
            return tensors[0]
        if reduction == "sum":
            return sum(tensors)
        if reduction == "mean":
            return sum(tensors) / len(tensors)
        if reduction == "concat":
            return torch.cat(tensors, dim=1)
        raise ValueError(f'Unrecognized reduction policy: "{reduction}"')
