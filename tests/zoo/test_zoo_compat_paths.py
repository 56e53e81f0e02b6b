"""NNI's search-space import paths resolve to nasops' zoo, and NNI-style model code runs."""

import importlib
import sys
from collections.abc import Iterator

import pytest

import nasops.nasbench201
import nasops.search_space_zoo
from nasops.compat import nni as compat

# Model code written as NNI's search-space examples write it, with only NNI import paths.
NNI_USER_CODE = """
import torch
import torch.nn as nn
from nni.algorithms.nas.pytorch.random import RandomMutator
from nni.nas.pytorch.fixed import apply_fixed_architecture
from nni.nas.pytorch.nasbench201 import NASBench201Cell
from nni.nas.pytorch.search_space_zoo import DartsCell
from nni.nas.pytorch.search_space_zoo.darts_ops import DropPath


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 3, padding=1)
        self.darts = DartsCell(2, 8, 8, 4, False, False)
        self.nb201 = NASBench201Cell(0, 8, 8, 1)
        self.fc = nn.Linear(8, 2)

    def forward(self, x):
        x = self.stem(x)
        return self.fc(self.nb201(self.darts(x, x)).mean((2, 3)))


torch.manual_seed(0)
model = Net()
for module in model.modules():
    if isinstance(module, DropPath):
        module.p = 0.2
mutator = RandomMutator(model)
mutator.reset()
model(torch.randn(2, 3, 8, 8)).sum().backward()
arc = mutator.export()
retrain = Net()
apply_fixed_architecture(retrain, arc, verbose=False)
out = retrain(torch.randn(2, 3, 8, 8))
"""


@pytest.fixture
def installed() -> Iterator[None]:
    if "nni" in sys.modules and not compat.is_installed():
        pytest.skip("a real nni is imported in this process")
    compat.install()
    yield
    compat.uninstall()


@pytest.mark.parametrize(
    ("nni_path", "nasops_module"),
    [
        ("nni.nas.pytorch.search_space_zoo", nasops.search_space_zoo),
        ("nni.nas.pytorch.search_space_zoo.darts_cell", nasops.search_space_zoo.darts_cell),
        ("nni.nas.pytorch.search_space_zoo.darts_ops", nasops.search_space_zoo.darts_ops),
        ("nni.nas.pytorch.nasbench201", nasops.nasbench201),
        ("nni.nas.pytorch.nasbench201.nasbench201", nasops.nasbench201.nasbench201),
        ("nni.nas.pytorch.nasbench201.nasbench201_ops", nasops.nasbench201.nasbench201_ops),
    ],
)
def test_nni_search_space_paths_are_the_nasops_modules(
    installed: None, nni_path: str, nasops_module: object
) -> None:
    assert importlib.import_module(nni_path) is nasops_module


def test_nni_names_and_attribute_paths_resolve(installed: None) -> None:
    import nni.nas.pytorch.nasbench201.nasbench201_ops
    import nni.nas.pytorch.search_space_zoo.darts_ops
    from nni.nas.pytorch.nasbench201 import NASBench201Cell
    from nni.nas.pytorch.search_space_zoo import DartsCell

    assert DartsCell is nasops.search_space_zoo.DartsCell
    assert NASBench201Cell is nasops.nasbench201.NASBench201Cell
    ops = nni.nas.pytorch.search_space_zoo.darts_ops
    assert ops.DropPath is nasops.search_space_zoo.darts_ops.DropPath
    assert (
        nni.nas.pytorch.nasbench201.nasbench201_ops.Zero is nasops.nasbench201.nasbench201_ops.Zero
    )


def test_nni_style_model_code_searches_and_retrains(installed: None) -> None:
    namespace: dict = {"__name__": "nni_user_code"}
    exec(compile(NNI_USER_CODE, "nni_user_code.py", "exec"), namespace)
    assert set(namespace["arc"]) >= {"normal_n2_p0", "normal_n3_switch", "0_1", "2_3"}
    assert namespace["out"].shape == (2, 2)
