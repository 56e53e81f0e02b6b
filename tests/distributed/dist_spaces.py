"""Tiny supernets and data for the distributed tests (run inside the worker processes)."""

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from nasops.mutables import InputChoice, LayerChoice, MutableScope
from nasops.razor import DiffMutableOP, OneShotMutableOP


def _candidates() -> list[nn.Module]:
    return [nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1), nn.MaxPool2d(3, 1, padding=1)]


class BranchNet(nn.Module):
    """Two LayerChoices ("left", "right", 3 candidates each) joined by the InputChoice "join";
    BatchNorm in the stem, so buffers are part of what must agree; 3 classes on 1x8x8."""

    def __init__(self, n_chosen: int | None = 1) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4))
        self.left = LayerChoice(_candidates(), key="left")
        self.right = LayerChoice(_candidates(), key="right")
        self.join = InputChoice(choose_from=["left", "right"], n_chosen=n_chosen, key="join")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(x))
        joined = self.join([self.left(h), self.right(h)])
        return self.fc(F.adaptive_avg_pool2d(joined, 1).flatten(1))


class ChainNet(nn.Module):
    """Two LayerChoices in a row ("first", "second"): the LayerChoice-only space ProxylessNAS
    supports."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.first = LayerChoice(_candidates(), key="first")
        self.second = LayerChoice(_candidates(), key="second")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.second(self.first(torch.relu(self.stem(x))))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


class Cell(MutableScope):
    def __init__(self, key: str, prev: list[str]) -> None:
        super().__init__(key)
        self.op = LayerChoice(_candidates(), key=key + "_op")
        self.inp = InputChoice(choose_from=prev, n_chosen=1, key=key + "_in")

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.op(self.inp(xs))


class EnasNet(nn.Module):
    """Two scoped cells and an any-number skip InputChoice (the controller's full walk)."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.c0 = Cell("c0", ["", ""])
        self.c1 = Cell("c1", ["", "c0"])
        self.skip = InputChoice(n_candidates=2, key="skip")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.stem(x))
        a = self.c0([x, x])
        b = self.c1([x, a])
        y = self.skip([a, b])
        out = b if y is None else y
        return self.fc(F.adaptive_avg_pool2d(out, 1).flatten(1))


class RazorNet(nn.Module):
    """A one-shot op and a differentiable op (mmrazor mutables) on 1x8x8 inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.single = OneShotMutableOP({f"op{i}": m for i, m in enumerate(_candidates())})
        self.diff = DiffMutableOP({f"op{i}": m for i, m in enumerate(_candidates())})
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.diff(self.single(torch.relu(self.stem(x))))
        return self.fc(F.adaptive_avg_pool2d(h, 1).flatten(1))


def images(n: int, seed: int = 0) -> TensorDataset:
    """``n`` random 1x8x8 images with labels in 0..2, the same on every rank."""
    generator = torch.Generator().manual_seed(seed)
    return TensorDataset(
        torch.randn(n, 1, 8, 8, generator=generator), torch.randint(0, 3, (n,), generator=generator)
    )


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {"acc": (logits.argmax(1) == y).float().mean().item()}
