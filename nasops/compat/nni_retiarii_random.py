"""``nni.retiarii.oneshot.pytorch.random`` under the alias: Retiarii's path-sampling input.

NNI's ENAS example (``examples/nas/oneshot/enas/micro.py``, v2.3 to v2.8) imports
``PathSamplingInputChoice`` in every cell's forward to tell Retiarii's one-shot modules from v1
mutables: ``isinstance(self.input_choice, PathSamplingInputChoice)``. nasops runs the v1 API,
whose mutators never swap an InputChoice for this module, so the check takes the v1 branch;
the class still works as Retiarii's does when built by hand.
"""

import torch
from torch import nn

from nasops.mutables import InputChoice
from nasops.ops import weighted_sum


class PathSamplingInputChoice(nn.Module):
    """Takes a list of tensors and returns the sampled one, or the sum of the sampled ones.

    Attributes:
        n_candidates, n_chosen: copied from the InputChoice it stands for.
        sampled: the chosen index, or a list of them; set by the sampler before a forward.
    """

    def __init__(self, input_choice: InputChoice) -> None:
        super().__init__()
        self.n_candidates = input_choice.n_candidates
        self.n_chosen = input_choice.n_chosen
        self.sampled: int | list[int] | None = None

    def forward(self, input_tensors: list[torch.Tensor]) -> torch.Tensor:
        if self.sampled is None:
            raise RuntimeError("PathSamplingInputChoice: set 'sampled' before the forward pass")
        if isinstance(self.sampled, list):
            return weighted_sum([input_tensors[i] for i in self.sampled])
        return input_tensors[self.sampled]

    def __len__(self) -> int:
        return self.n_candidates

    @property
    def mask(self) -> torch.Tensor:
        """The sampled inputs as a multi-hot bool tensor of ``n_candidates`` entries."""
        chosen = self.sampled if isinstance(self.sampled, list) else [self.sampled]
        return torch.tensor([i in chosen for i in range(self.n_candidates)], dtype=torch.bool)
