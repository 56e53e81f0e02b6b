"""Tiny search spaces, data and probes for the tests of the sampling algorithms (GDAS,
one-shot, random): a call counter on every candidate, a host-read counter, the NNI pipeline."""

import json
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from nasops.fixed import apply_fixed_architecture
from nasops.mutables import InputChoice, LayerChoice

HOST_READS = ("__bool__", "item", "tolist", "__index__", "__int__", "__float__", "numpy")


def candidates() -> list[nn.Module]:
    return [nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 1), nn.AvgPool2d(3, 1, padding=1)]


class BranchNet(nn.Module):
    """Two parallel LayerChoice branches ("left", "right") on 1x8x8 inputs, joined by the
    InputChoice "join" over them; 3 classes."""

    def __init__(self, n_chosen: int | None = 1) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.left = LayerChoice(candidates(), key="left")
        self.right = LayerChoice(candidates(), key="right")
        self.join = InputChoice(choose_from=["left", "right"], n_chosen=n_chosen, key="join")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = torch.relu(self.stem(x))
        joined = self.join([self.left(h), self.right(h)])
        return self.fc(F.adaptive_avg_pool2d(joined, 1).flatten(1))


def images(n: int = 16, seed: int = 0) -> TensorDataset:
    """``n`` random 1x8x8 images with labels in 0..2."""
    generator = torch.Generator().manual_seed(seed)
    return TensorDataset(
        torch.randn(n, 1, 8, 8, generator=generator), torch.randint(0, 3, (n,), generator=generator)
    )


def accuracy(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    return {"acc1": (logits.argmax(1) == y).float().mean().item()}


def trainer_arguments(model: nn.Module, epochs: int = 1) -> dict:
    """NNI's positional trainer arguments (as keywords) for ``model`` on tiny data."""
    return {
        "model": model,
        "loss": nn.CrossEntropyLoss(),
        "metrics": accuracy,
        "optimizer": torch.optim.SGD(model.parameters(), lr=0.05),
        "num_epochs": epochs,
        "dataset_train": images(16),
        "dataset_valid": images(8, seed=1),
        "batch_size": 4,
        "workers": 0,
        "device": "cpu",
    }


class CallCounter:
    """Counts the calls of every candidate of every LayerChoice in ``model`` (forward hooks)."""

    def __init__(self, model: nn.Module) -> None:
        self.calls: dict[str, list[int]] = {}
        for module in model.modules():
            if isinstance(module, LayerChoice):
                self.calls[module.key] = [0] * len(module)
                for i, candidate in enumerate(module):
                    candidate.register_forward_hook(self._hook(module.key, i))

    def _hook(self, key: str, index: int):
        def count(*_: object) -> None:
            self.calls[key][index] += 1

        return count

    def clear(self) -> None:
        for counts in self.calls.values():
            counts[:] = [0] * len(counts)


class HostReads:
    """Counts (or refuses) every way of reading a tensor's elements on the host."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, refuse: bool = False) -> None:
        self.count = 0
        for name in HOST_READS:
            monkeypatch.setattr(torch.Tensor, name, self._wrap(getattr(torch.Tensor, name), refuse))

    def _wrap(self, method, refuse: bool):
        def read(*args: object, **kwargs: object) -> object:
            if refuse:
                raise AssertionError("read a tensor on the host")
            self.count += 1
            return method(*args, **kwargs)

        return read


def export_and_apply(trainer, fresh: nn.Module, tmp_path: Path) -> dict:
    """NNI's pipeline after training: ``export(file)``, ``apply_fixed_architecture`` on a fresh
    model, then a forward and backward pass of it; returns the exported architecture."""
    path = tmp_path / "arch.json"
    trainer.export(str(path))
    exported = json.loads(path.read_text())
    apply_fixed_architecture(fresh, str(path), verbose=False)
    out = fresh(images(4, seed=2).tensors[0])
    assert out.shape == (4, 3) and torch.isfinite(out).all()
    out.sum().backward()
    return exported
