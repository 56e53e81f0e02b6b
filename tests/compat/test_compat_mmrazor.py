"""``nasops.compat.mmrazor``: mmrazor 1.0 import paths resolve to nasops.razor, a script runs."""

import importlib
import importlib.util
import sys
import types
from collections.abc import Iterator

import pytest
import torch

import nasops.razor as razor
from nasops.compat import mmrazor as compat
from nasops.razor import architectures, derived, subnet

HAS_MMENGINE = importlib.util.find_spec("mmengine") is not None
needs_mmengine = pytest.mark.skipif(not HAS_MMENGINE, reason="mmengine is not installed")

# mmrazor 1.0 user code, unchanged: a one-shot supernet searched, exported and loaded.
MMRAZOR_SCRIPT = """
import torch
import torch.nn as nn
from mmrazor.models.mutables import OneShotMutableOP, OneShotMutableValue
from mmrazor.models.mutators import NasMutator
from mmrazor.structures import export_fix_subnet, load_fix_subnet


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.op = OneShotMutableOP(nn.ModuleDict({
            'conv3': nn.Conv2d(3, 8, 3, padding=1),
            'conv5': nn.Conv2d(3, 8, 5, padding=2)}))
        self.width = OneShotMutableValue([4, 8])

    def forward(self, x):
        return self.op(x)[:, :self.width.current_choice]


torch.manual_seed(0)
model = Net()
mutator = NasMutator()
mutator.prepare_from_supernet(model)
for _ in range(3):
    mutator.set_choices(mutator.sample_choices())
    model(torch.randn(2, 3, 8, 8)).sum().backward()
subnet, _ = export_fix_subnet(model)
retrain = Net()
load_fix_subnet(retrain, {k: {'chosen': v.chosen} for k, v in subnet.items()})
out = retrain(torch.randn(2, 3, 8, 8))
"""


@pytest.fixture
def installed() -> Iterator[None]:
    if "mmrazor" in sys.modules and not compat.is_installed():
        pytest.skip("a real mmrazor is imported in this process")
    compat.install()
    yield
    compat.uninstall()


def test_mmrazor_paths_resolve_to_nasops(installed: None) -> None:
    from mmrazor.models import NasMutator, OneShotMutableOP, SearchableShuffleNetV2
    from mmrazor.models.architectures.ops import ShuffleBlock, ShuffleXception
    from mmrazor.models.mutables import DerivedMutable, MutableValue, SquentialMutableChannel
    from mmrazor.models.mutables.base_mutable import BaseMutable
    from mmrazor.models.mutables.derived_mutable import _concat_choice_fn, _concat_mask_fn
    from mmrazor.models.mutables.mutable_module import MutableModule
    from mmrazor.models.mutables.mutable_module.one_shot_mutable_module import (
        OneShotProbMutableOP,
    )
    from mmrazor.models.mutators import NasMutator as NasMutator2
    from mmrazor.structures import export_fix_subnet
    from mmrazor.structures.subnet import load_fix_subnet
    from mmrazor.utils import DumpChosen

    assert OneShotMutableOP is razor.OneShotMutableOP and BaseMutable is razor.BaseMutable
    assert NasMutator is NasMutator2 is razor.NasMutator
    assert (DerivedMutable, MutableValue, SquentialMutableChannel, MutableModule) == (
        razor.DerivedMutable,
        razor.MutableValue,
        razor.SquentialMutableChannel,
        razor.MutableModule,
    )
    assert OneShotProbMutableOP is razor.OneShotProbMutableOP
    assert (_concat_choice_fn, _concat_mask_fn) == (
        derived._concat_choice_fn,
        derived._concat_mask_fn,
    )
    assert (ShuffleBlock, ShuffleXception, SearchableShuffleNetV2) == (
        architectures.ShuffleBlock,
        architectures.ShuffleXception,
        architectures.SearchableShuffleNetV2,
    )
    assert export_fix_subnet is subnet.export_fix_subnet
    assert load_fix_subnet is subnet.load_fix_subnet and DumpChosen is razor.DumpChosen
    import mmrazor.models.mutables.derived_mutable as derived_mutable

    assert derived_mutable is derived
    with pytest.raises(ModuleNotFoundError, match=r"mmrazor.models.no_such_module"):
        importlib.import_module("mmrazor.models.no_such_module")


def test_install_is_idempotent_and_uninstall_removes_the_aliases(installed: None) -> None:
    first = sys.modules["mmrazor"]
    compat.install()
    assert sys.modules["mmrazor"] is first and compat.is_installed()
    compat.uninstall()
    assert not any(n == "mmrazor" or n.startswith("mmrazor.") for n in sys.modules)


def test_install_refuses_a_real_mmrazor(monkeypatch: pytest.MonkeyPatch) -> None:
    if compat.is_installed():
        compat.uninstall()
    real = types.ModuleType("mmrazor")
    real.__file__ = "site-packages/mmrazor/__init__.py"
    monkeypatch.setitem(sys.modules, "mmrazor", real)
    with pytest.raises(RuntimeError, match="a real 'mmrazor' package is already imported"):
        compat.install()
    assert sys.modules["mmrazor"] is real


def test_mmrazor_script_runs_through_the_alias(installed: None) -> None:
    namespace: dict = {"__name__": "mmrazor_user_script"}
    exec(compile(MMRAZOR_SCRIPT, "mmrazor_user_script.py", "exec"), namespace)
    assert set(namespace["subnet"]) == {"op", "width"}
    assert namespace["out"].shape[1] == namespace["subnet"]["width"].chosen
    assert isinstance(namespace["retrain"].op, razor.OneShotMutableOP)
    assert namespace["retrain"].op.is_fixed


@needs_mmengine
def test_registry_is_the_mmrazor_scope_under_mmengine(installed: None) -> None:
    from mmengine.registry import MODELS as ROOT
    from mmrazor.registry import MODELS
    from mmrazor.utils import register_all_modules

    from nasops.razor import registry

    assert MODELS is registry.MODELS and MODELS.scope == "mmrazor" and MODELS.parent is ROOT
    assert register_all_modules is registry.register_all_modules
    op = MODELS.build({"type": "OneShotMutableOP", "candidates": {"a": torch.nn.Identity()}})
    assert isinstance(op, razor.OneShotMutableOP)


def test_without_mmengine_the_registry_is_left_out(monkeypatch: pytest.MonkeyPatch) -> None:
    if compat.is_installed():
        compat.uninstall()
    monkeypatch.setattr(compat, "has_registry", lambda: False)
    compat.install()
    try:
        import mmrazor.utils

        assert not hasattr(mmrazor.utils, "register_all_modules")
        with pytest.raises(ModuleNotFoundError, match=r"mmrazor\.registry"):
            importlib.import_module("mmrazor.registry")
        from mmrazor.models.mutables import OneShotMutableOP

        op = OneShotMutableOP({"a": torch.nn.Identity()})
        assert op(torch.ones(1)).item() == 1.0
    finally:
        compat.uninstall()


@needs_mmengine
def test_an_mmrazor_config_builds_through_the_alias(installed: None, tmp_path) -> None:
    from mmengine.config import Config
    from mmrazor.registry import MODELS

    (tmp_path / "cfg.py").write_text(
        "custom_imports = dict(\n"
        "    imports=['mmrazor.models.mutables.mutable_module.one_shot_mutable_module'],\n"
        "    allow_failed_imports=False)\n"
        "_STAGE_MUTABLE = dict(_scope_='mmrazor', type='OneShotMutableOP', candidates=dict(\n"
        "    shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3),\n"
        "    shuffle_xception=dict(type='ShuffleXception')))\n"
        "nas_backbone = dict(_scope_='mmrazor', type='SearchableShuffleNetV2',\n"
        "    widen_factor=0.125,\n"
        "    arch_setting=[[64, 1, _STAGE_MUTABLE], [160, 1, _STAGE_MUTABLE]], out_indices=(1,),\n"
        "    with_last_layer=False)\n"
    )
    cfg = Config.fromfile(str(tmp_path / "cfg.py"))
    net = MODELS.build(cfg.nas_backbone)
    (out,) = net(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 20, 2, 2)
    assert isinstance(net.layers[0][0], razor.OneShotMutableOP)
