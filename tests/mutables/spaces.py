"""The search spaces of NNI v1's own ``test_nas.py``, written afresh, plus counting helpers.

Shared by ``tests/mutables`` and ``tests/compat``; ``mutables`` is the module that provides
LayerChoice, InputChoice and MutableScope (``nasops.mutables`` or NNI's alias of it).
"""

from types import ModuleType

import torch
import torch.nn.functional as F
from torch import nn

from nasops.mutator import Mutator


def build_spaces(mutables: ModuleType) -> dict[str, type]:
    """The four spaces (naive, mutable scope, nested, layer choice only) on ``mutables``."""
    LayerChoice, InputChoice, MutableScope = (
        mutables.LayerChoice,
        mutables.InputChoice,
        mutables.MutableScope,
    )

    def two_convs(cin: int, cout: int) -> list[nn.Module]:
        return [nn.Conv2d(cin, cout, 3, padding=1), nn.Conv2d(cin, cout, 5, padding=2)]

    class LayerChoiceOnly(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = LayerChoice(two_convs(3, 6))
            self.conv2 = LayerChoice(two_convs(6, 16), return_mask=True)
            self.conv3 = nn.Conv2d(16, 16, 1)
            self.bn = nn.BatchNorm2d(16)
            self.fc = nn.Linear(16, 10)

        def stem(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            x = F.max_pool2d(F.relu(self.conv1(x)), 2)
            x0, mask = self.conv2(x)
            assert mask.shape == (2,), mask
            return x0, F.relu(self.conv3(x0))

        def head(self, x: torch.Tensor) -> torch.Tensor:
            x = F.max_pool2d(self.bn(x), 2)
            return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.stem(x)[1])

    class Naive(LayerChoiceOnly):
        def __init__(self) -> None:
            super().__init__()
            self.skip = InputChoice(n_candidates=1)
            self.skip2 = InputChoice(n_candidates=2, return_mask=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x0, x1 = self.stem(x)
            _, mask = self.skip2([x0, x1])
            assert mask.shape == (2,), mask
            skipped = self.skip([x0])
            if skipped is not None:
                x1 = x1 + skipped  # out of place: NNI's in-place add breaks autograd (§4.1)
            return self.head(x1)

    class Cell(MutableScope):
        def __init__(self, name: str, sources: list[str], channels: int) -> None:
            super().__init__(name)
            self.input_choice = InputChoice(
                choose_from=sources, n_chosen=1, return_mask=True, key=name + "_input"
            )
            self.op_choice = LayerChoice(
                [
                    nn.Conv2d(channels, channels, 3, padding=1),
                    nn.Conv2d(channels, channels, 5, padding=2),
                    nn.MaxPool2d(3, stride=1, padding=1),
                    nn.AvgPool2d(3, stride=1, padding=1),
                    nn.Identity(),
                ],
                key=name + "_op",
            )

        def forward(self, states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            chosen, mask = self.input_choice(states)
            return self.op_choice(chosen), mask

    class Node(MutableScope):
        def __init__(self, name: str, sources: list[str], channels: int) -> None:
            super().__init__(name)
            self.cell_x = Cell(name + "_x", sources, channels)
            self.cell_y = Cell(name + "_y", sources, channels)

        def forward(self, states: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
            out_x, mask_x = self.cell_x(states)
            out_y, mask_y = self.cell_y(states)
            return out_x + out_y, mask_x | mask_y

    class Layer(nn.Module):
        def __init__(self, num_nodes: int, channels: int) -> None:
            super().__init__()
            labels = [InputChoice.NO_KEY, InputChoice.NO_KEY]
            self.nodes = nn.ModuleList()
            for i in range(num_nodes):
                self.nodes.append(Node(f"node_{i}", list(labels), channels))
                labels.append(f"node_{i}")
            self.mix = nn.Parameter(torch.zeros(channels, num_nodes + 2, channels, 1, 1))
            self.bn = nn.BatchNorm2d(channels, affine=False)

        def forward(self, pprev: torch.Tensor, prev: torch.Tensor) -> tuple[torch.Tensor, ...]:
            states = [pprev, prev]
            used = torch.zeros(len(self.nodes) + 2, dtype=torch.bool, device=prev.device)
            for node in self.nodes:
                out, mask = node(states)
                used[: mask.size(0)] |= mask.to(prev.device)
                states.append(out)
            loose = torch.cat([s for u, s in zip(used.tolist(), states, strict=True) if not u], 1)
            weight = self.mix[:, ~used].flatten(1, 2)
            return prev, self.bn(F.conv2d(F.relu(loose), weight))

    class WithMutableScope(nn.Module):
        def __init__(self, num_layers: int = 2, num_nodes: int = 3, channels: int = 8) -> None:
            super().__init__()
            self.stem = nn.Sequential(
                nn.Conv2d(3, channels, 3, padding=1), nn.BatchNorm2d(channels)
            )
            self.layers = nn.ModuleList(Layer(num_nodes, channels) for _ in range(num_layers))
            self.fc = nn.Linear(channels, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            prev = cur = self.stem(x)
            for layer in self.layers:
                prev, cur = layer(prev, cur)
            return self.fc(F.adaptive_avg_pool2d(F.relu(cur), 1).flatten(1))

    class MutableOp(nn.Module):
        def __init__(self, kernel_size: int) -> None:
            super().__init__()
            self.conv = nn.Conv2d(3, 8, kernel_size, padding=kernel_size // 2)
            self.nested = InputChoice(n_candidates=2)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv(x)

    class Nested(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv1 = LayerChoice([MutableOp(3), MutableOp(5)])

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.conv1(x)

    return {
        "naive": Naive,
        "mutable_scope": WithMutableScope,
        "nested": Nested,
        "layer_choice_only": LayerChoiceOnly,
    }


def sample_forward_backward(model: nn.Module, mutator=None, n_iters: int = 20) -> None:
    """NNI's ``iterative_sample_and_forward``: reset, forward, backward, ``n_iters`` times."""
    for _ in range(n_iters):
        model.zero_grad()
        if mutator is not None:
            mutator.reset()
        model(torch.randn(2, 3, 8, 8)).sum().backward()


def random_pipeline(space: type, mutator_cls: type, utils: ModuleType, fixed: ModuleType) -> dict:
    """NNI's ``default_mutator_test_pipeline``: search, export, apply to a fresh model, train.

    Returns the exported architecture; the fresh model is checked to run forward and backward.
    """
    utils._reset_global_mutable_counting()
    model = space()
    mutator = mutator_cls(model)
    sample_forward_backward(model, mutator)
    utils._reset_global_mutable_counting()
    fresh = space()
    with torch.no_grad():
        arc = mutator.export()
    fixed.apply_fixed_architecture(fresh, arc, verbose=False)
    sample_forward_backward(fresh, n_iters=1)
    return arc


class CountingOp(nn.Module):
    """A candidate that records its calls and returns ``x * factor``."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.calls = 0

    def forward(self, x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
        self.calls += 1
        return x * (self.factor * scale)


class MaskMutator(Mutator):
    """A mutator whose decisions are the masks it was given (``masks`` may be edited later)."""

    def __init__(self, model: nn.Module, masks: dict) -> None:
        super().__init__(model)
        self.masks = masks

    def sample_search(self) -> dict:
        return dict(self.masks)

    def sample_final(self) -> dict:
        return dict(self.masks)
