"""``DartsMutator``: every candidate runs, weighted by the softmax of a learned logit vector."""

import torch
import torch.nn.functional as F
from torch import nn

from nasops._decision import Decision, dense_decision
from nasops.algorithms.strongest import strongest_architecture
from nasops.mutables import InputChoice, LayerChoice
from nasops.mutator import Mutator


class DartsMutator(Mutator):
    """The continuous relaxation of DARTS: a LayerChoice outputs a softmax-weighted sum.

    Each LayerChoice key owns an architecture parameter ``choices[key]`` of ``len + 1`` logits;
    the last one is an implicit "zero" op that outputs nothing, so the weights of the real
    candidates (the softmax without its last entry) may sum to less than one. The zero op
    competes in the softmax while searching but is never exported. While searching, every
    InputChoice connects all of its inputs.

    At export, a LayerChoice keeps its strongest candidate. An InputChoice with ``n_chosen``
    keeps the ``n_chosen`` sources whose LayerChoice (the one with the source's key) has the
    strongest winner; a source that is not a LayerChoice counts as 0, and a LayerChoice source
    that loses is exported as selecting nothing, since its output is never used.

    Unlike NNI, every candidate runs in every step, even one whose logit was set to ``-inf``
    (its weight is then exactly 0): forward never reads the weights on the host, so no step
    waits for the device. Such a candidate contributes 0, which changes the result only when it
    outputs ``inf`` or NaN.

    Attributes:
        choices: ``nn.ParameterDict`` from LayerChoice key to its logits (state_dict keys
            ``choices.<key>``).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self.choices = nn.ParameterDict()
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                self.choices[mutable.key] = nn.Parameter(1.0e-3 * torch.randn(len(mutable) + 1))
        self._dense_masks: dict[str, torch.Tensor] = {}

    def device(self) -> torch.device | None:
        """Where the architecture parameters live (``None`` without any LayerChoice)."""
        for alpha in self.choices.values():
            return alpha.device
        return None

    def sample_search(self) -> dict[str, torch.Tensor]:
        """Softmax weights (with gradient) per LayerChoice, all-True masks per InputChoice."""
        result = {}
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                result[mutable.key] = F.softmax(self.choices[mutable.key], dim=-1)[:-1]
            elif isinstance(mutable, InputChoice):
                result[mutable.key] = torch.ones(
                    mutable.n_candidates, dtype=torch.bool, device=self.device()
                )
        self._dense_masks = dict(result)
        return result

    def _compile(self, key: str, mask: object) -> Decision:
        # The masks sample_search made select every candidate by construction: skip the host
        # read. A mask put in the cache by other code is read as usual.
        if self._dense_masks.get(key) is mask:
            return dense_decision(mask)
        return super()._compile(key, mask)

    def sample_final(self) -> dict[str, torch.Tensor]:
        """The strongest candidate per LayerChoice, the strongest sources per InputChoice
        (:func:`~nasops.algorithms.strongest.strongest_architecture`); bool masks."""
        probabilities = {
            key: F.softmax(alpha.detach(), dim=-1)[:-1] for key, alpha in self.choices.items()
        }
        return strongest_architecture(list(self.mutables), probabilities)
