"""``OneshotMutator``: Bender et al.'s one-shot model, every path on, with path dropout.

Bender et al. ("Understanding and Simplifying One-Shot Architecture Search", ICML 2018) train
the whole supernet at once; each InputChoice drops each of its k inputs independently with
probability r^(1/k), so a choice loses all its inputs with probability r whatever its fan-in.
"""

from typing import Any

import torch
from torch import nn

from nasops._decision import Decision, compile_decision, dense_decision
from nasops.algorithms.random.mutator import RandomMutator
from nasops.mutables import InputChoice, LayerChoice


class OneshotMutator(RandomMutator):
    """Connects every candidate, dropping InputChoice inputs while training.

    Args:
        model: the network with mutables.
        drop_rate: ``r`` in [0, 1), the probability that an InputChoice drops all its inputs.

    While training (``mutator.train()``, the default), ``reset()`` keeps each input of a
    k-input InputChoice with probability ``1 - r^(1/k)`` (``n_chosen`` is not used); kept
    inputs are reduced unscaled. The draws use PyTorch's default CPU generator (seed with
    ``torch.manual_seed``) and stay on the host, so no step waits for the device. In eval mode
    nothing is dropped. Every LayerChoice runs all its candidates, always.

    An InputChoice that selects nothing outputs zeros of its reduction's shape (every input
    times weight 0, through the fused op), so the graph and the shapes stay valid; this holds
    for a pinned or final architecture too, while this mutator decides.

    ``sample_final()`` returns :attr:`best_architecture` once a ranking has set it (see
    :class:`~nasops.algorithms.oneshot.OneshotTrainer`), else a uniformly random architecture.
    """

    def __init__(self, model: nn.Module, drop_rate: float = 0.01) -> None:
        super().__init__(model)
        self._layer_choices = [m for m in self.mutables if isinstance(m, LayerChoice)]
        self._input_choices = [m for m in self.mutables if isinstance(m, InputChoice)]
        self._input_choice_keys = {m.key for m in self._input_choices}
        self.drop_rate = drop_rate
        self.best_architecture: dict[str, Any] | None = None
        self._prepared: dict[str, Decision] = {}

    @property
    def drop_rate(self) -> float:
        """``r``: the probability of dropping all inputs of an InputChoice."""
        return self._drop_rate

    @drop_rate.setter
    def drop_rate(self, value: float) -> None:
        if not 0 <= value < 1:
            raise ValueError(f"OneshotMutator: drop_rate must be in [0, 1), got {value!r}")
        self._drop_rate = float(value)
        # Each input's drop probability, every InputChoice's inputs end to end: one draw a reset.
        self._input_drop_probabilities = torch.tensor(
            [
                self.drop_probability(m.n_candidates)
                for m in self._input_choices
                for _ in range(m.n_candidates)
            ]
        )

    def drop_probability(self, n_candidates: int) -> float:
        """The probability ``r^(1/k)`` of dropping each input of a ``k``-input choice."""
        return self._drop_rate ** (1.0 / n_candidates)

    def sample_search(self) -> dict[str, torch.Tensor]:
        """key → bool mask (CPU): all-True per LayerChoice; per InputChoice, its keep draw
        while training, all-True in eval mode.

        All the InputChoices are drawn by one ``torch.rand`` and read back in one ``tolist``.
        """
        self._prepared = {}
        result = {}
        for mutable in self._layer_choices:
            mask = result[mutable.key] = torch.ones(len(mutable), dtype=torch.bool)
            self._prepared[mutable.key] = dense_decision(mask)
        probabilities = self._input_drop_probabilities
        if self.training:
            keep = torch.rand(len(probabilities)) >= probabilities
        else:
            keep = torch.ones(len(probabilities), dtype=torch.bool)
        flags, start = keep.tolist(), 0
        for mutable in self._input_choices:
            end = start + mutable.n_candidates
            mask = result[mutable.key] = keep[start:end]
            indices = tuple(i for i, flag in enumerate(flags[start:end]) if flag)
            self._prepared[mutable.key] = (
                Decision(mask, mask, indices, None) if indices else _zero_weights(mask, mask)
            )
            start = end
        return result

    def sample_random(self) -> dict[str, torch.Tensor]:
        """A uniformly random architecture, as :class:`RandomMutator` draws it."""
        return super().sample_search()

    def sample_final(self) -> dict[str, Any]:
        """The ranked best architecture when there is one, else a random one."""
        if self.best_architecture is not None:
            return dict(self.best_architecture)
        return self.sample_random()

    def _compile(self, key: str, mask: Any) -> Decision:
        """The decision prepared by :meth:`sample_search` for this very mask; any other mask is
        read as usual, an empty InputChoice selection becoming zero weights."""
        prepared = self._prepared.get(key)
        if prepared is not None and prepared.describes(mask):
            return prepared
        if key in self._input_choice_keys:
            return self._input_decision(mask, key)
        return compile_decision(mask, key)

    @staticmethod
    def _input_decision(mask: Any, key: str) -> Decision:
        decision = compile_decision(mask, key)
        return decision if decision.indices else _zero_weights(mask, decision.mask)


def _zero_weights(source: Any, mask: torch.Tensor) -> Decision:
    """An InputChoice that selects nothing: every input at weight 0, so the fused op returns
    zeros shaped like a normal output, on the graph."""
    return Decision(source, mask, tuple(range(len(mask))), torch.zeros(len(mask)))
