"""Small modules shared by the razor tests: call-counting candidates and a host-read counter."""

import torch
from torch import nn

from nasops.razor import _reduce


class Scale(nn.Module):
    """``factor * x`` with a learnable factor; counts its calls."""

    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = nn.Parameter(torch.tensor(float(factor)))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return self.factor * x


def scales(*factors: float) -> dict[str, Scale]:
    return {f"s{i}": Scale(f) for i, f in enumerate(factors)}


class HostReads:
    """Counts the host reads the mutables make (they all go through ``_reduce.host_list``)."""

    def __init__(self, monkeypatch) -> None:
        self.count = 0
        original = _reduce.host_list

        def counting(t: torch.Tensor) -> list:
            self.count += 1
            return original(t)

        monkeypatch.setattr(_reduce, "host_list", counting)
