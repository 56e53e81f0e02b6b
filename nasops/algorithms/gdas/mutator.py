"""``GdasMutator``: one Gumbel-sampled candidate per LayerChoice, with a gradient to every logit.

GDAS (Dong & Yang, "Searching for a Robust Neural Architecture in Four GPU Hours", CVPR 2019)
draws a hard one-hot from the Gumbel-softmax of each choice's logits and weights the chosen
candidate by the straight-through estimator: its value is exactly 1, its gradient is the soft
sample's, so a step runs one candidate per choice yet trains every logit.
"""

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasops._decision import Decision, compile_decision, dense_decision
from nasops.algorithms.strongest import strongest_architecture
from nasops.mutables import InputChoice, LayerChoice
from nasops.mutator import Mutator


class GdasMutator(Mutator):
    """Samples each LayerChoice by hard Gumbel-softmax at temperature ``tau``.

    Args:
        model: the network with mutables.
        tau_max: the Gumbel-softmax temperature of the first epoch (soft, exploring samples).
        tau_min: the temperature of the last epoch (samples close to the argmax).

    Attributes:
        choices: LayerChoice key → logits, one per candidate (``1e-3·randn`` at start; there is
            no zero candidate, unlike DARTS), so the state_dict keys are ``choices.<key>``.
        tau: the current temperature; :meth:`set_temperature` schedules it.

    Every InputChoice connects all its inputs while searching. ``sample_final()`` is the
    argmax of the logits (:func:`nasops.algorithms.strongest.strongest_architecture`).
    """

    def __init__(self, model: nn.Module, tau_max: float = 10.0, tau_min: float = 0.1) -> None:
        super().__init__(model)
        self.set_temperature_range(tau_max, tau_min)
        self.tau = self.tau_max
        self.choices = nn.ParameterDict()
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                self.choices[mutable.key] = nn.Parameter(1.0e-3 * torch.randn(len(mutable)))
        self._prepared: dict[str, Decision] = {}

    def set_temperature_range(self, tau_max: float, tau_min: float) -> None:
        """Set the schedule's endpoints; ``0 < tau_min <= tau_max`` is required."""
        if not 0 < tau_min <= tau_max:
            raise ValueError(
                f"GdasMutator: temperatures must satisfy 0 < tau_min <= tau_max, got "
                f"tau_max={tau_max!r}, tau_min={tau_min!r}"
            )
        self.tau_max, self.tau_min = float(tau_max), float(tau_min)

    def set_temperature(self, epoch: int, num_epochs: int) -> float:
        """Set and return ``tau`` for ``epoch`` (from 0) of ``num_epochs``: linear from
        ``tau_max`` at the first epoch to ``tau_min`` at the last (``tau_max`` for one epoch)."""
        progress = epoch / (num_epochs - 1) if num_epochs > 1 else 0.0
        self.tau = self.tau_max - (self.tau_max - self.tau_min) * progress
        return self.tau

    def sample_search(self) -> dict[str, torch.Tensor]:
        """key → mask: a LayerChoice's straight-through one-hot weights (full length, on the
        logits' graph), an InputChoice's all-True mask.

        The sampled indices of all LayerChoices are read on the host in one transfer.
        """
        layer_choices = [m for m in self.mutables if isinstance(m, LayerChoice)]
        self._prepared = {}
        result: dict[str, torch.Tensor] = {}
        if layer_choices:
            weights, indices = self._straight_through([self.choices[m.key] for m in layer_choices])
            for row, (mutable, index) in enumerate(zip(layer_choices, indices, strict=True)):
                mask = weights[row, : len(mutable)]
                self._prepared[mutable.key] = Decision(
                    mask, mask, (index,), mask[index : index + 1]
                )
                result[mutable.key] = mask
        device = self._device()
        for mutable in self.mutables:
            if isinstance(mutable, InputChoice):
                mask = torch.ones(mutable.n_candidates, dtype=torch.bool, device=device)
                self._prepared[mutable.key] = dense_decision(mask)
                result[mutable.key] = mask
        return result

    def _straight_through(self, logits: list[torch.Tensor]) -> tuple[torch.Tensor, list[int]]:
        """Hard Gumbel-softmax of each logit vector, as rows padded to the longest (padding
        never wins), and the winning index of each row."""
        width = max(len(row) for row in logits)
        padded = torch.stack(
            [F.pad(row, (0, width - len(row)), value=-torch.inf) for row in logits]
        )
        # Gumbel(0, 1) noise is -log(E) for E ~ Exp(1); E = 0 would give an infinite sample.
        exponential = torch.empty_like(padded).exponential_()
        gumbel = -exponential.clamp_min(torch.finfo(padded.dtype).tiny).log()
        perturbed = (padded + gumbel) / self.tau
        soft = F.softmax(perturbed, dim=-1)
        index = perturbed.detach().argmax(dim=-1, keepdim=True)
        hard = torch.zeros_like(soft).scatter_(-1, index, 1.0)
        # hard + (soft - soft.detach()) is exactly hard in value (x - x == 0), unlike
        # hard - soft.detach() + soft, which rounds; the gradient is soft's either way.
        return hard + (soft - soft.detach()), index.view(-1).tolist()

    def _compile(self, key: str, mask: Any) -> Decision:
        """The decision prepared by :meth:`sample_search` for this very mask (no host read);
        any other mask (a final or user-set architecture) is read as usual."""
        prepared = self._prepared.get(key)
        if prepared is not None and prepared.describes(mask):
            return prepared
        return compile_decision(mask, key)

    def sample_final(self) -> dict[str, torch.Tensor]:
        """The argmax architecture: each LayerChoice's largest logit, as a one-hot bool mask;
        InputChoices as :func:`~nasops.algorithms.strongest.strongest_architecture` decides."""
        probabilities = {key: F.softmax(logits, dim=-1) for key, logits in self.choices.items()}
        return strongest_architecture(list(self.mutables), probabilities)

    def use_final_architecture(self) -> None:
        """Make the following forward passes run ``sample_final()``'s architecture (until the
        next ``reset()``), e.g. for validation."""
        self._cache = self.sample_final()

    def _device(self) -> torch.device | None:
        for logits in self.choices.values():
            return logits.device
        return None
