"""NNI v1's ``nni.nas.pytorch.utils``: key counter, search-space tree, conversions, meters."""

from typing import Any

import numpy as np
import torch

from nasops._keys import _reset_global_mutable_counting, global_mutable_counting
from nasops._meters import AverageMeter, AverageMeterGroup
from nasops._tree import StructuredMutableTreeNode

__all__ = [
    "AverageMeter",
    "AverageMeterGroup",
    "StructuredMutableTreeNode",
    "_reset_global_mutable_counting",
    "global_mutable_counting",
    "to_device",
    "to_list",
]


def to_device(obj: Any, device: torch.device | str) -> Any:
    """Move a tensor, or the tensors inside (nested) tuples, lists and dicts, to ``device``.

    ints, floats and strs pass through; anything else raises ``ValueError``.
    """
    if torch.is_tensor(obj):
        return obj.to(device)
    if isinstance(obj, tuple):
        return tuple(to_device(item, device) for item in obj)
    if isinstance(obj, list):
        return [to_device(item, device) for item in obj]
    if isinstance(obj, dict):
        return {k: to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, (int, float, str)):
        return obj
    raise ValueError(f"'{obj}' has unsupported type '{type(obj)}'")


def to_list(arr: Any) -> Any:
    """A tensor, numpy array or tuple as a Python list; anything else unchanged."""
    if torch.is_tensor(arr):
        return arr.detach().cpu().tolist()
    if isinstance(arr, np.ndarray):
        return arr.tolist()
    if isinstance(arr, (list, tuple)):
        return list(arr)
    return arr
