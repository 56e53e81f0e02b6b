"""The one reduction path of the module mutables: run the active candidates, reduce with the op.

Deciding which candidates are active from a device tensor needs one host read; it happens in
``host_list`` only, once per forward, so tests can count it.
"""

from collections.abc import Callable, Sequence

import torch

from nasops.ops import weighted_sum


def host_list(t: torch.Tensor) -> list:
    """Copy ``t`` to the host as a Python list: the single host read of a forward."""
    return t.tolist()


def sum_all(calls: Sequence[Callable[[], torch.Tensor]]) -> torch.Tensor:
    """Unweighted sum of every call's output; a single output is returned as is."""
    outs = [call() for call in calls]
    return outs[0] if len(outs) == 1 else weighted_sum(outs)


def sum_weighted(
    calls: Sequence[Callable[[], torch.Tensor]], weights: torch.Tensor
) -> torch.Tensor:
    """``Σ weights[i]·calls[i]()`` over the entries with a non-zero weight.

    The zero test is one host read; the active weights are gathered with an index on the
    device, so the gradient still reaches every weight (and the logits behind it).
    """
    if weights.dim() != 1 or weights.numel() != len(calls):
        raise ValueError(
            f"weights must be 1-D with {len(calls)} entries (one per candidate), "
            f"got shape {tuple(weights.shape)}"
        )
    active = [i for i, nonzero in enumerate(host_list(weights != 0)) if nonzero]
    if not active:
        raise RuntimeError("every candidate weight is zero; nothing to compute")
    index = torch.tensor(active, device=weights.device)
    return weighted_sum([calls[i]() for i in active], weights.index_select(0, index))
