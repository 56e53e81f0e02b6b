"""``RandomMutator``: uniform random decisions, drawn from PyTorch's global generator."""

import torch
import torch.nn.functional as F

from nasops.mutables import InputChoice, LayerChoice
from nasops.mutator import Mutator


class RandomMutator(Mutator):
    """Samples a random architecture at every ``reset()``; seed with ``torch.manual_seed``.

    A LayerChoice gets one candidate, uniformly. An InputChoice gets a uniform subset of
    ``n_chosen`` inputs, or, when ``n_chosen`` is None, each input independently with
    probability 1/2 (possibly none). The draws are NNI's, so one seed gives NNI's samples.
    """

    def sample_search(self) -> dict[str, torch.Tensor]:
        """One random bool mask per LayerChoice and InputChoice key."""
        result = {}
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                index = torch.randint(high=len(mutable), size=(1,))
                result[mutable.key] = F.one_hot(index, num_classes=len(mutable)).view(-1).bool()
            elif isinstance(mutable, InputChoice):
                if mutable.n_chosen is None:
                    draw = torch.randint(high=2, size=(mutable.n_candidates,))
                    result[mutable.key] = draw.bool()
                else:
                    chosen = torch.randperm(mutable.n_candidates)[: mutable.n_chosen]
                    mask = torch.zeros(mutable.n_candidates, dtype=torch.bool)
                    mask[chosen] = True
                    result[mutable.key] = mask
        return result

    def sample_final(self) -> dict[str, torch.Tensor]:
        """A new random sample, like :meth:`sample_search` (as in NNI)."""
        return self.sample_search()
