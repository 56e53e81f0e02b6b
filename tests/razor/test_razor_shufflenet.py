"""Seed 004's ShuffleNetV2 search space: the ops, the backbone, and the seed's config snippets."""

import importlib.util
import textwrap
from pathlib import Path

import pytest
import torch
from torch import nn

from nasops.razor import NasMutator, OneShotMutableOP, export_fix_subnet, load_fix_subnet
from nasops.razor.architectures import SearchableShuffleNetV2, ShuffleBlock, ShuffleXception
from nasops.razor.architectures.layers import ConvModule, channel_shuffle

needs_mmengine = pytest.mark.skipif(
    importlib.util.find_spec("mmengine") is None, reason="configs need mmengine"
)

# The seed's three snippets, verbatim apart from widen_factor (kept small for the tests).
SEED_CONFIG = """
_STAGE_MUTABLE = dict(
    _scope_='mmrazor',
    type='OneShotMutableOP',
    candidates=dict(
        shuffle_3x3=dict(type='ShuffleBlock', kernel_size=3),
        shuffle_5x5=dict(type='ShuffleBlock', kernel_size=5),
        shuffle_7x7=dict(type='ShuffleBlock', kernel_size=7),
        shuffle_xception=dict(type='ShuffleXception')))

arch_setting = [
    [64, 4, _STAGE_MUTABLE],
    [160, 4, _STAGE_MUTABLE],
    [320, 8, _STAGE_MUTABLE],
    [640, 4, _STAGE_MUTABLE]
]

nas_backbone = dict(
    _scope_='mmrazor',
    type='SearchableShuffleNetV2',
    widen_factor=0.125,
    arch_setting=arch_setting)
"""


def stage(**kwargs) -> dict:
    """A stage mutable with the seed's four candidates, built from classes (no registry)."""
    return {
        "type": OneShotMutableOP,
        "candidates": {
            "shuffle_3x3": {"type": ShuffleBlock, "kernel_size": 3, **kwargs},
            "shuffle_5x5": {"type": ShuffleBlock, "kernel_size": 5, **kwargs},
            "shuffle_7x7": {"type": ShuffleBlock, "kernel_size": 7, **kwargs},
            "shuffle_xception": {"type": ShuffleXception, **kwargs},
        },
    }


def small_backbone(**kwargs) -> SearchableShuffleNetV2:
    setting = [[64, 2, stage()], [160, 1, stage()]]
    return SearchableShuffleNetV2(
        setting, **{"widen_factor": 0.125, "out_indices": (1, 2), **kwargs}
    )


def test_channel_shuffle_interleaves_the_groups() -> None:
    x = torch.arange(6.0).view(1, 6, 1, 1)
    assert channel_shuffle(x, 2).flatten().tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    with pytest.raises(ValueError, match="do not split into 2 equal groups"):
        channel_shuffle(torch.ones(1, 3, 1, 1), 2)


@pytest.mark.parametrize("op", [ShuffleBlock, ShuffleXception])
@pytest.mark.parametrize(("stride", "cin", "shape"), [(1, 8, (2, 8, 6, 6)), (2, 4, (2, 8, 3, 3))])
def test_ops_keep_or_halve_the_size_and_reach_out_channels(
    op: type, stride: int, cin: int, shape: tuple
) -> None:
    kwargs = {"kernel_size": 5} if op is ShuffleBlock else {}
    block = op(in_channels=cin, out_channels=8, stride=stride, **kwargs)
    x = torch.randn(2, cin, 6, 6)
    assert block(x).shape == shape
    assert hasattr(block, "branch1") == (stride > 1)


def test_stride_one_keeps_the_first_half_of_the_channels() -> None:
    block = ShuffleBlock(kernel_size=3, in_channels=4, out_channels=4).eval()
    x = torch.randn(1, 4, 3, 3)
    out = block(x)
    torch.testing.assert_close(out[:, 0::2], x[:, :2])  # shuffled to the even slots


def test_op_configs_are_checked() -> None:
    with pytest.raises(ValueError, match="kernel_size must be 3, 5 or 7, got 4"):
        ShuffleBlock(kernel_size=4, in_channels=8, out_channels=8)
    with pytest.raises(AssertionError, match=r"in_channels \(6\) must equal"):
        ShuffleXception(in_channels=6, out_channels=8)
    with pytest.raises(ValueError, match="norm_cfg type 'XX' is not supported"):
        ShuffleBlock(kernel_size=3, in_channels=8, out_channels=8, norm_cfg={"type": "XX"})


def test_conv_module_follows_mmcv_names_and_bias_rule() -> None:
    conv = ConvModule(4, 8, 3, norm_cfg={"type": "BN", "requires_grad": False})
    assert set(conv.state_dict()) >= {"conv.weight", "bn.weight", "bn.running_mean"}
    assert conv.conv.bias is None and not conv.bn.weight.requires_grad
    plain = ConvModule(4, 8, 1, act_cfg={"type": "ReLU"})
    assert plain.conv.bias is not None and isinstance(plain.activate, nn.ReLU)


def test_checkpointing_gives_the_same_output_and_gradients() -> None:
    torch.manual_seed(0)
    plain = ShuffleXception(in_channels=8, out_channels=8)
    checkpointed = ShuffleXception(in_channels=8, out_channels=8, with_cp=True)
    checkpointed.load_state_dict(plain.state_dict())
    x = torch.randn(2, 8, 4, 4, requires_grad=True)
    outs = [m(x) for m in (plain, checkpointed)]
    torch.testing.assert_close(outs[0], outs[1])
    grads = [torch.autograd.grad(o.sum(), x)[0] for o in outs]
    torch.testing.assert_close(grads[0], grads[1])


def test_backbone_builds_one_mutable_per_block_with_stride_two_first() -> None:
    net = small_backbone()
    blocks = [m for m in net.modules() if isinstance(m, OneShotMutableOP)]
    assert len(blocks) == 3 and net.layers[0][0]._candidates["shuffle_3x3"].stride == 2
    assert net.layers[0][1]._candidates["shuffle_3x3"].stride == 1
    outs = net(torch.randn(2, 3, 16, 16))  # every candidate summed while nothing is chosen
    assert [tuple(o.shape) for o in outs] == [(2, 20, 2, 2), (2, 1024, 2, 2)]


def test_backbone_searches_exports_and_loads() -> None:
    torch.manual_seed(0)
    net = small_backbone()
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    assert list(mutator.search_groups) == ["module_0", "module_1", "module_2"]
    mutator.set_choices(mutator.sample_choices())
    net(torch.randn(2, 3, 16, 16))[-1].sum().backward()
    subnet, _ = export_fix_subnet(net)
    assert set(subnet) == {"layers.0.0", "layers.0.1", "layers.1.0"}
    retrain = small_backbone()
    load_fix_subnet(retrain, subnet)
    assert all(len(m.choices) == 1 for m in retrain.modules() if isinstance(m, OneShotMutableOP))
    assert retrain(torch.randn(1, 3, 16, 16))[-1].shape == (1, 1024, 2, 2)


def test_backbone_checks_indices_and_freezes_stages() -> None:
    with pytest.raises(ValueError, match=r"out_indices entries must be in range\(0, 3\)"):
        small_backbone(out_indices=(3,))
    with pytest.raises(ValueError, match=r"frozen_stages must be in range\(-1, 2\)"):
        SearchableShuffleNetV2([[64, 1, stage()]], out_indices=(1,), frozen_stages=2)
    net = small_backbone(frozen_stages=1, norm_eval=True).train()
    assert not any(p.requires_grad for p in net.conv1.parameters())
    assert not any(p.requires_grad for p in net.layers[0].parameters())
    assert all(p.requires_grad for p in net.layers[1].parameters())
    assert not any(m.training for m in net.modules() if isinstance(m, nn.BatchNorm2d))


def test_init_weights_is_shufflenets() -> None:
    net = small_backbone()
    net.init_weights()
    bn = net.conv1.bn
    assert torch.all(bn.weight == 1.0) and torch.allclose(bn.bias, torch.full_like(bn.bias, 1e-4))
    assert net.conv1.conv.weight.std() < 0.05


@needs_mmengine
def test_the_seeds_config_snippets_build_and_run(tmp_path: Path) -> None:
    from mmengine.config import Config

    from nasops.razor.registry import MODELS

    path = tmp_path / "spos_shufflenet.py"
    path.write_text(SEED_CONFIG)
    cfg = Config.fromfile(str(path))
    net = MODELS.build(cfg.nas_backbone)
    assert isinstance(net, SearchableShuffleNetV2) and len(net.layers) == 5
    mutables = [m for m in net.modules() if isinstance(m, OneShotMutableOP)]
    assert len(mutables) == 20 and mutables[0].choices == [
        "shuffle_3x3",
        "shuffle_5x5",
        "shuffle_7x7",
        "shuffle_xception",
    ]
    mutator = NasMutator()
    mutator.prepare_from_supernet(net)
    mutator.set_choices(mutator.sample_choices())
    (out,) = net(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, 1024, 1, 1)


@needs_mmengine
def test_a_config_imports_custom_modules(tmp_path: Path, monkeypatch) -> None:
    from mmengine.config import Config

    from nasops.razor.registry import MODELS

    (tmp_path / "my_ops.py").write_text(
        textwrap.dedent(
            """
            import torch.nn as nn
            from nasops.razor.registry import MODELS

            @MODELS.register_module(force=True)
            class MyIdentityOp(nn.Identity):
                def __init__(self, **kwargs):
                    super().__init__()
            """
        )
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    (tmp_path / "cfg.py").write_text(
        "custom_imports = dict(imports=['my_ops'], allow_failed_imports=False)\n"
        "op = dict(_scope_='mmrazor', type='OneShotMutableOP', candidates=dict("
        "same=dict(type='MyIdentityOp'), shuffle=dict(type='ShuffleBlock', kernel_size=3)),"
        " module_kwargs=dict(in_channels=8, out_channels=8))\n"
    )
    cfg = Config.fromfile(str(tmp_path / "cfg.py"))
    op = MODELS.build(cfg.op)
    op.current_choice = "same"
    x = torch.randn(1, 8, 2, 2)
    torch.testing.assert_close(op(x), x)
