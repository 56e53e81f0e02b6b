"""A mutator's decision for one key, turned once into what ``forward`` needs.

NNI walks the mask in every forward (``if m`` per element: one host read per branch, a device
sync for a CUDA mask). Here a mask is read on the host once, when the decision is made, and
becomes a :class:`Decision`: the active indices as a Python tuple, plus the weights of those
indices as a device tensor (``None`` for a hard mask). ``forward`` only indexes Python lists.
"""

from typing import Any

import numpy as np
import torch

ACCEPTED_MASKS = (
    "a 1-D bool tensor, a 1-D floating tensor of any float dtype on any device, "
    "or a list or numpy array of bools or of floats"
)


class Decision:
    """The active candidates of one decision.

    Attributes:
        indices: positions of the selected candidates (non-zero mask entries), host side.
        weights: for a floating mask, the mask entries at ``indices`` (same device and autograd
            graph as the mask); ``None`` for a bool mask.
        mask: what ``return_mask`` hands back: the mask tensor itself, or a tensor made from a
            list/array mask.
        length: the number of mask entries.
    """

    __slots__ = ("_on_device", "_source", "_stamp", "indices", "length", "mask", "weights")

    def __init__(
        self,
        source: Any,
        mask: torch.Tensor,
        indices: tuple[int, ...],
        weights: torch.Tensor | None,
    ) -> None:
        self._source = source
        self._stamp = _stamp(source)
        self.mask = mask
        self.indices = indices
        self.weights = weights
        self.length = len(mask)
        self._on_device: dict[torch.device, torch.Tensor] = {}

    def describes(self, source: Any) -> bool:
        """Whether this decision still describes ``source`` (same object, not modified since)."""
        return source is self._source and _stamp(source) == self._stamp

    def weights_on(self, device: torch.device) -> torch.Tensor | None:
        """The weights on ``device``, moved at most once per device."""
        weights = self.weights
        if weights is None or weights.device == device:
            return weights
        moved = self._on_device.get(device)
        if moved is None:
            moved = self._on_device[device] = weights.to(device)
        return moved


def dense_decision(mask: torch.Tensor) -> Decision:
    """Every candidate active, without reading ``mask`` on the host.

    For mutators whose masks are non-zero everywhere by construction (DARTS' softmax, an
    all-True connect mask): ``forward`` runs every candidate and weights it by the mask, on the
    mask's device, with no device-to-host copy. A zero entry still contributes nothing.
    """
    if mask.dim() != 1 or not (mask.dtype == torch.bool or mask.dtype.is_floating_point):
        _reject(mask, "")
    weights = None if mask.dtype == torch.bool else mask
    return Decision(mask, mask, tuple(range(len(mask))), weights)


def _stamp(source: Any) -> Any:
    # A tensor's version counter moves on every in-place change; lists and arrays are compared
    # by value (they are short, and mutating them in place after reset() is legal).
    if isinstance(source, torch.Tensor):
        return source._version
    if isinstance(source, np.ndarray):
        return source.tolist()
    return list(source)


def compile_decision(mask: Any, key: str = "") -> Decision:
    """Read ``mask`` once on the host and return its :class:`Decision`.

    A bool mask selects; a floating mask selects its non-zero entries (NaN and negative
    included) and weights them. Anything else raises ``ValueError`` listing the accepted forms.
    """
    if isinstance(mask, torch.Tensor):
        return _from_tensor(mask, key)
    if isinstance(mask, np.ndarray):
        if mask.dtype == np.bool_ or np.issubdtype(mask.dtype, np.floating):
            return _from_values(mask, mask.tolist(), key)
        _reject(mask, key)
    if isinstance(mask, list):
        return _from_values(mask, mask, key)
    _reject(mask, key)


def _from_tensor(mask: torch.Tensor, key: str) -> Decision:
    if mask.dim() != 1 or not (mask.dtype == torch.bool or mask.dtype.is_floating_point):
        _reject(mask, key)
    values = mask.detach().tolist()
    indices = tuple(i for i, v in enumerate(values) if v)
    if mask.dtype == torch.bool:
        return Decision(mask, mask, indices, None)
    if len(indices) == len(values):
        weights = mask
    else:
        weights = mask.index_select(0, torch.tensor(indices, dtype=torch.long, device=mask.device))
    return Decision(mask, mask, indices, weights)


def _from_values(source: Any, values: list, key: str) -> Decision:
    indices = tuple(i for i, v in enumerate(values) if v)
    if all(isinstance(v, (bool, np.bool_)) for v in values):
        return Decision(source, torch.tensor(values, dtype=torch.bool), indices, None)
    if all(isinstance(v, (float, np.floating)) for v in values):
        weights = torch.tensor([values[i] for i in indices], dtype=torch.get_default_dtype())
        return Decision(source, torch.tensor(values), indices, weights)
    _reject(source, key)


def _reject(mask: Any, key: str) -> None:
    raise ValueError(
        f"Unrecognized mask '{mask}' for key '{key}': accepted are {ACCEPTED_MASKS} "
        "(integer masks are ambiguous: use bools to select, floats to weight)"
    )
