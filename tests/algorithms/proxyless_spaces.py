"""Tiny LayerChoice-only search spaces and loaders for the ProxylessNAS tests."""

import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from nasops.mutables import LayerChoice


class ZeroLayer(nn.Module):
    """ProxylessNAS' "skip this block" candidate: outputs zeros, says so."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * 0

    @staticmethod
    def is_zero_layer() -> bool:
        return True


class ChainNet(nn.Module):
    """stem → LayerChoice "a" (3x3 conv, 1x1 conv, zero) → LayerChoice "b" (3x3, 1x1 conv) →
    linear head, on 1x8x8 inputs; 3 classes. Plain torch candidates have no ``is_zero_layer``."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.a = LayerChoice(
            [nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1), ZeroLayer()], key="a"
        )
        self.b = LayerChoice([nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1)], key="b")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.b(torch.relu(self.a(torch.relu(self.stem(x)))))
        return self.fc(h.mean((2, 3)))


class OneChoice(nn.Module):
    """stem → one LayerChoice of linear candidates (the last a zero layer) → nonlinear head:
    small enough to compute every gate gradient by hand."""

    def __init__(self, n_candidates: int = 3, return_mask: bool = False) -> None:
        super().__init__()
        self.stem = nn.Linear(3, 4)
        ops: list[nn.Module] = [nn.Linear(4, 4) for _ in range(n_candidates - 1)]
        self.lc = LayerChoice([*ops, ZeroLayer()], return_mask=return_mask, key="lc")
        self.head = nn.Linear(4, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.tanh(self.lc(self.stem(x))))


def loaders(n_train: int = 16, n_valid: int = 8, batch_size: int = 4):
    """Train and valid loaders of random 1x8x8 images with labels in 0..2 (no workers)."""
    generator = torch.Generator().manual_seed(0)

    def data(n: int) -> TensorDataset:
        return TensorDataset(
            torch.randn(n, 1, 8, 8, generator=generator),
            torch.randint(0, 3, (n,), generator=generator),
        )

    return (
        DataLoader(data(n_train), batch_size=batch_size, shuffle=True, num_workers=0),
        DataLoader(data(n_valid), batch_size=batch_size, num_workers=0),
    )
