"""Tiny search spaces and data for the DARTS and P-DARTS tests."""

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from nasops.mutables import InputChoice, LayerChoice


def conv_candidates(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, 3, padding=1), nn.Conv2d(cin, cout, 1)]


class TwoChoiceNet(nn.Module):
    """Two conv LayerChoices and a skip InputChoice on 1x8x8 inputs, 3 classes."""

    def __init__(self, batchnorm: bool = True) -> None:
        super().__init__()
        self.conv1 = LayerChoice(conv_candidates(1, 4), key="conv1")
        self.conv2 = LayerChoice(conv_candidates(4, 4), key="conv2")
        self.skip = InputChoice(n_candidates=1, key="skip")
        self.bn = nn.BatchNorm2d(4) if batchnorm else nn.Identity()
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x0 = torch.tanh(self.conv1(x))
        x1 = torch.tanh(self.conv2(x0))
        skipped = self.skip([x0])
        if skipped is not None:
            x1 = x1 + skipped
        return self.fc(F.adaptive_avg_pool2d(self.bn(x1), 1).flatten(1))


class OpsNet(nn.Module):
    """``layers`` LayerChoices sharing the key "op", of four named candidates (P-DARTS)."""

    def __init__(self, layers: int = 1) -> None:
        super().__init__()
        self.cells = nn.ModuleList(
            LayerChoice(
                OrderedDict(
                    conv3=nn.Conv2d(2, 2, 3, padding=1),
                    conv1=nn.Conv2d(2, 2, 1),
                    pool=nn.AvgPool2d(3, stride=1, padding=1),
                    skip=nn.Identity(),
                ),
                key="op",
            )
            for _ in range(layers)
        )
        self.other = LayerChoice([nn.Conv2d(2, 2, 1), nn.Identity(), nn.Tanh()], key="other")
        self.stem = nn.Conv2d(1, 2, 1)
        self.fc = nn.Linear(2, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        for cell in self.cells:
            x = torch.tanh(cell(x))
        x = self.other(x)
        return self.fc(x.mean((2, 3)))


class Scale(nn.Module):
    """A parameter-free candidate that returns ``x * factor`` and counts its calls."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * self.factor


FACTORS = (1.0, 2.0, -1.0)


class ScaleNet(nn.Module):
    """``Σ_i w_i·factor_i·x + bias``: a LayerChoice of :class:`Scale` s and one trained bias."""

    def __init__(self) -> None:
        super().__init__()
        self.lc = LayerChoice([Scale(f) for f in FACTORS], key="lc")
        self.bias = nn.Parameter(torch.zeros(4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.lc(x) + self.bias


class ExportSpace(nn.Module):
    """The space of NNI's DARTS export oracle: three LayerChoices, one InputChoice over them."""

    def __init__(self) -> None:
        super().__init__()
        for key in ("e0", "e1", "e2"):
            ops = [nn.Identity(), nn.Tanh(), nn.ReLU()]
            setattr(self, key, LayerChoice(ops, key=key))
        self.sw = InputChoice(choose_from=["e0", "e1", "e2"], n_chosen=2, key="sw")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs = [self.e0(x), self.e1(x), self.e2(x)]
        return self.sw(outs)


def images(n: int = 16, seed: int = 0, dtype: torch.dtype = torch.float32) -> TensorDataset:
    """``n`` random 1x8x8 images with labels in 0..2."""
    generator = torch.Generator().manual_seed(seed)
    X = torch.randn(n, 1, 8, 8, generator=generator, dtype=dtype)
    y = torch.randint(0, 3, (n,), generator=generator)
    return TensorDataset(X, y)


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {"acc1": (logits.argmax(1) == y).float().mean().item()}
