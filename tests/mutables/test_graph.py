"""Mutator.graph(): the supernet as a TensorBoard graph, every candidate connected."""

import pytest
import torch
from torch import nn

from nasops.algorithms.random import RandomMutator
from nasops.mutables import InputChoice, LayerChoice

pytest.importorskip("tensorboard")


class TwoChoices(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = LayerChoice(
            [nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(3, 4, 5, padding=2)], key="conv"
        )
        self.skip = InputChoice(n_candidates=2, n_chosen=1, key="skip")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        return self.skip([y, y.relu()])


def test_graph_connects_every_candidate_and_maps_each_key_to_its_module():
    model = TwoChoices()
    mutator = RandomMutator(model)
    mutator.reset()
    graph = mutator.graph(torch.randn(1, 3, 8, 8))
    names = [node["name"] for node in graph["node"]]
    assert any("LayerChoice[conv]/Conv2d[0]" in n for n in names)
    assert any("LayerChoice[conv]/Conv2d[1]" in n for n in names)
    assert graph["mutable"] == {
        "conv": [[{"type": "TwoChoices", "name": ""}, {"type": "LayerChoice", "name": "conv"}]],
        "skip": [[{"type": "TwoChoices", "name": ""}, {"type": "InputChoice", "name": "skip"}]],
    }
    assert model.training  # restored after tracing in eval mode
    assert not mutator._connect_all
