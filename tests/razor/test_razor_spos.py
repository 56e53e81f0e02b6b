"""A SPOS-style searchable network end to end, and a smoke run of ``examples/razor_spos.py``."""

import importlib.util
import random
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasops.razor import NasMutator, OneShotMutableOP, export_fix_subnet, load_fix_subnet

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "razor_spos.py"


def block(kind: str) -> nn.Module:
    layers = {"lin": nn.Linear(6, 6), "tanh": nn.Sequential(nn.Linear(6, 6), nn.Tanh())}
    return layers.get(
        kind, nn.Sequential(nn.Linear(6, 6), nn.ReLU() if kind == "relu" else nn.GELU())
    )


class SearchableNet(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.ModuleList(
            OneShotMutableOP({k: block(k) for k in ("lin", "tanh", "relu", "gelu")})
            for _ in range(3)
        )
        self.head = nn.Linear(6, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.layers:
            x = layer(x)
        return self.head(x)


def test_spos_training_search_fix_and_export(backend: str) -> None:
    torch.manual_seed(0)
    random.seed(0)
    net = SearchableNet()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    assert list(mutator.search_groups) == ["module_0", "module_1", "module_2"]
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    x, y = torch.randn(32, 6), torch.randint(0, 2, (32,))
    for _ in range(40):
        mutator.set_choices(mutator.sample_choices())
        loss = F.cross_entropy(net(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    changed = {
        k.split(".")[3]
        for k, v in net.state_dict().items()
        if "_candidates" in k and not torch.equal(v, before[k])
    }
    assert changed == {"lin", "tanh", "relu", "gelu"}  # every candidate was sampled and trained

    best = {"module_0": "relu", "module_1": "lin", "module_2": "gelu"}
    mutator.set_choices(best)
    with torch.no_grad():
        expected = net(x)
    subnet, fixed = export_fix_subnet(net, slice_weight=True)
    assert {k: v.chosen for k, v in subnet.items()} == {
        "layers.0": "relu",
        "layers.1": "lin",
        "layers.2": "gelu",
    }
    assert all(len(layer.choices) == 1 for layer in fixed.layers)
    with torch.no_grad():
        torch.testing.assert_close(fixed(x), expected)
    fresh = SearchableNet()
    load_fix_subnet(fresh, subnet)
    assert sum(p.numel() for p in fresh.parameters()) == sum(p.numel() for p in fixed.parameters())


@pytest.fixture(scope="module")
def example():
    spec = importlib.util.spec_from_file_location("razor_spos_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_example_runs_end_to_end_on_a_tiny_subset(example, tmp_path, capsys) -> None:
    out = tmp_path / "subnet.yaml"
    args = ["--samples", "150", "--width", "4", "--depth", "2", "--epochs", "1"]
    args += ["--retrain-epochs", "1", "--population", "3", "--generations", "1"]
    acc = example.main([*args, "--no-progress", "--subnet-out", str(out)])
    printed = capsys.readouterr().out
    assert 0.0 <= acc <= 1.0 and f"test accuracy {acc:.3f}" in printed
    assert out.read_text().count("chosen:") == 2


def test_example_search_functions_are_importable(example) -> None:
    torch.manual_seed(0)
    train_set, val_set, test_set = example.load_digits_splits(100)
    assert (len(train_set.y), len(val_set.y), len(test_set.y)) == (60, 20, 20)
    net = example.Supernet(width=4, depth=2)
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    best, acc = example.evolution_search(
        net, mutator, val_set, population=3, generations=1, progress=False
    )
    assert set(best) == {"module_0", "module_1"} and acc == example.score(
        net, mutator, best, val_set
    )
