"""The final architecture of a differentiable search: every choice keeps its strongest candidates.

One rule for every mutator that learns a probability per LayerChoice candidate (GDAS here; it
is DARTS' export rule, so DARTS can share it).
"""

import logging

import torch
import torch.nn.functional as F

from nasops.mutables import InputChoice, LayerChoice, Mutable

_logger = logging.getLogger("nasops.algorithms")


def strongest_architecture(
    mutables: list[Mutable], probabilities: dict[str, torch.Tensor]
) -> dict[str, torch.Tensor]:
    """The bool mask of every LayerChoice and InputChoice key in ``mutables``.

    Args:
        mutables: the search space's mutables (``list(mutator.mutables)``).
        probabilities: LayerChoice key → one probability per candidate (1-D tensor).

    A LayerChoice keeps its most probable candidate. An InputChoice with ``n_chosen`` keeps the
    ``n_chosen`` sources whose LayerChoice has the highest top probability (a source that is not
    a LayerChoice weighs 0, with a warning), and each losing source decided before it (a
    LayerChoice, or an InputChoice earlier in ``mutables``) then selects nothing, since nothing
    reads its output, as in NNI. An InputChoice without ``n_chosen`` keeps all.
    """
    result: dict[str, torch.Tensor] = {}
    strongest: dict[str, torch.Tensor] = {}
    for mutable in mutables:
        if isinstance(mutable, LayerChoice):
            top, index = probabilities[mutable.key].detach().max(0)
            strongest[mutable.key] = top
            result[mutable.key] = F.one_hot(index, num_classes=len(mutable)).bool()
    for mutable in mutables:
        if isinstance(mutable, InputChoice):
            result[mutable.key] = _strongest_inputs(mutable, strongest, result)
    return result


def _strongest_inputs(
    mutable: InputChoice, strongest: dict[str, torch.Tensor], result: dict[str, torch.Tensor]
) -> torch.Tensor:
    device = next(iter(strongest.values())).device if strongest else None
    if mutable.n_chosen is None:
        return torch.ones(mutable.n_candidates, dtype=torch.bool, device=device)
    scores = []
    for source in mutable.choose_from:
        if source not in strongest:
            _logger.warning(
                "InputChoice.NO_KEY in '%s' is weighted 0 when selecting inputs.", mutable.key
            )
        scores.append(strongest.get(source, torch.zeros((), device=device)))
    chosen = set(torch.stack(scores).topk(mutable.n_chosen).indices.tolist())
    for i, source in enumerate(mutable.choose_from):
        if i not in chosen and source in result:
            result[source] = torch.zeros_like(result[source])
    mask = [i in chosen for i in range(mutable.n_candidates)]
    return torch.tensor(mask, dtype=torch.bool, device=device)
