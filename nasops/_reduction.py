"""NNI's rules for turning the selected outputs of a choice into its result.

One helper for LayerChoice and InputChoice alike, so the 0/1/≥2-selected rules live once:

* "none" returns the list (weighted outputs for a floating mask), ``[]`` if nothing is selected;
* nothing selected returns ``None``;
* one selected output is returned as it is (hard mask) or times its weight (floating mask),
  whatever the reduction, even an unknown one;
* two or more are reduced by the fused ``nasops::`` op for "sum", "mean" or "concat" (dim 1),
  weighted by the mask entries; any other reduction raises ``ValueError``.
"""

import torch

from nasops.ops import reduce, weighted_concat, weighted_mean, weighted_sum

REDUCTIONS = ("none", "sum", "mean", "concat")


def reduce_selected(
    outputs: list[torch.Tensor], weights: torch.Tensor | None, reduction: str
) -> torch.Tensor | list[torch.Tensor] | None:
    """Reduce the outputs of the selected candidates; ``weights`` align with ``outputs``."""
    if reduction == "none":
        if weights is None:
            return outputs
        return [weighted_sum([x], weights[i : i + 1]) for i, x in enumerate(outputs)]
    if not outputs:
        return None
    if len(outputs) == 1:
        return outputs[0] if weights is None else weighted_sum(outputs, weights)
    if reduction in ("sum", "mean", "concat"):
        return reduce(outputs, weights, reduction, dim=1)
    raise ValueError(f'Unrecognized reduction policy: "{reduction}"')


def reduce_all(outputs: list[torch.Tensor], reduction: str) -> torch.Tensor | list[torch.Tensor]:
    """Connect-all mode (every candidate, no mask): "mean" averages; NNI summed it (fix 4).

    Any reduction other than "none", "concat" and "mean" sums, as in NNI.
    """
    if reduction == "none":
        return outputs
    if reduction == "concat":
        return weighted_concat(outputs, dim=1)
    if reduction == "mean":
        return weighted_mean(outputs)
    return weighted_sum(outputs)
