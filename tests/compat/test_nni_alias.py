"""``nasops.compat.nni``: NNI v1 import paths resolve to nasops, and an NNI script runs."""

import importlib
import sys
import types
from collections.abc import Iterator

import pytest
import torch

import nasops
from nasops.compat import nni as compat

# An unmodified NNI v1 user script: search with random search, export, retrain.
NNI_SCRIPT = """
import torch
import torch.nn as nn
import torch.nn.functional as F
from nni.nas.pytorch.mutables import LayerChoice, InputChoice
from nni.nas.pytorch.fixed import apply_fixed_architecture
from nni.nas.pytorch.utils import _reset_global_mutable_counting
from nni.algorithms.nas.pytorch.random import RandomMutator


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = LayerChoice([nn.Conv2d(3, 8, 3, padding=1), nn.Conv2d(3, 8, 5, padding=2)])
        self.skip = InputChoice(n_candidates=2, n_chosen=1)
        self.fc = nn.Linear(8, 10)

    def forward(self, x):
        x = F.relu(self.conv(x))
        x = self.skip([x, torch.zeros_like(x)])
        return self.fc(x.mean((2, 3)))


torch.manual_seed(0)
_reset_global_mutable_counting()
model = Net()
mutator = RandomMutator(model)
for _ in range(3):
    mutator.reset()
    model(torch.randn(2, 3, 8, 8)).sum().backward()
arc = mutator.export()
_reset_global_mutable_counting()
retrain = Net()
apply_fixed_architecture(retrain, arc)
retrain(torch.randn(2, 3, 8, 8)).sum().backward()
"""


@pytest.fixture
def installed() -> Iterator[None]:
    if "nni" in sys.modules and not compat.is_installed():
        pytest.skip("a real nni is imported in this process")
    compat.install()
    yield
    compat.uninstall()


def _run(source: str) -> dict:
    namespace: dict = {"__name__": "nni_user_script"}
    exec(compile(source, "nni_user_script.py", "exec"), namespace)
    return namespace


def test_v1_and_v2_paths_resolve_to_nasops(installed: None) -> None:
    import nni.nas.pytorch.mutables as mutables
    from nni.algorithms.nas.pytorch.random import RandomMutator
    from nni.nas.pytorch import LayerChoice, apply_fixed_architecture
    from nni.nas.pytorch.random import RandomMutator as V1RandomMutator

    assert mutables is nasops.mutables and LayerChoice is nasops.LayerChoice
    assert RandomMutator is V1RandomMutator is nasops.algorithms.random.RandomMutator
    assert apply_fixed_architecture is nasops.apply_fixed_architecture
    for short in ("base_mutator", "mutator", "fixed", "utils"):
        assert importlib.import_module(f"nni.nas.pytorch.{short}") is getattr(nasops, short)
    assert (
        importlib.import_module("nni.algorithms.nas.pytorch.random.mutator").RandomMutator
        is RandomMutator
    )
    with pytest.raises(ModuleNotFoundError, match=r"nni.nas.pytorch.no_such_algorithm"):
        importlib.import_module("nni.nas.pytorch.no_such_algorithm")


def test_install_is_idempotent_and_uninstall_removes_the_aliases(installed: None) -> None:
    first = sys.modules["nni"]
    compat.install()
    assert sys.modules["nni"] is first
    compat.uninstall()
    assert not any(name == "nni" or name.startswith("nni.") for name in sys.modules)


def test_install_refuses_a_real_nni(monkeypatch: pytest.MonkeyPatch) -> None:
    if compat.is_installed():
        compat.uninstall()
    real = types.ModuleType("nni")
    real.__file__ = "site-packages/nni/__init__.py"
    monkeypatch.setitem(sys.modules, "nni", real)
    with pytest.raises(RuntimeError, match="a real 'nni' package is already imported"):
        compat.install()
    assert sys.modules["nni"] is real


def test_nni_script_runs_through_the_alias(installed: None) -> None:
    namespace = _run(NNI_SCRIPT)
    assert set(namespace["arc"]) == {"LayerChoice1", "InputChoice2"}
    assert isinstance(namespace["retrain"].conv, torch.nn.Conv2d)


def test_same_script_runs_on_nasops_directly() -> None:
    direct = NNI_SCRIPT.replace("nni.nas.pytorch.", "nasops.").replace(
        "nni.algorithms.nas.pytorch.", "nasops.algorithms."
    )
    assert "nni" not in direct
    namespace = _run(direct)
    assert set(namespace["arc"]) == {"LayerChoice1", "InputChoice2"}
    assert isinstance(namespace["retrain"].conv, torch.nn.Conv2d)
