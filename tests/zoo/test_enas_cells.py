"""``ENASMicroLayer``, ``ENASMacroLayer`` and ``ENASMacroGeneralModel``: NNI v2.8's keys,
candidates, state_dict names and shapes, and the forward of a fixed architecture."""

import pytest
import torch
from torch import nn

from nasops.algorithms.random import RandomMutator
from nasops.fixed import apply_fixed_architecture
from nasops.mutables import LayerChoice, MutableScope
from nasops.search_space_zoo import ENASMacroGeneralModel, ENASMacroLayer, ENASMicroLayer
from nasops.search_space_zoo.enas_ops import ConvBranch, Pool, PoolBranch, SepConvBN
from nasops.utils import _reset_global_mutable_counting

BN_STATS = ("running_mean", "running_var", "num_batches_tracked")


def _keys(module: nn.Module) -> list[tuple[str, str]]:
    return [(type(m).__name__, m.key) for m in RandomMutator(module).mutables]


def _micro_node_keys(prefix: str, i: int) -> list[tuple[str, str]]:
    node = f"{prefix}_node_{i}"
    return [
        ("Node", node),
        ("InputChoice", f"{node}_x_input"),
        ("LayerChoice", f"{node}_x_op"),
        ("InputChoice", f"{node}_y_input"),
        ("LayerChoice", f"{node}_y_op"),
    ]


@pytest.mark.parametrize(("reduction", "prefix"), [(False, "normal"), (True, "reduce")])
def test_micro_layer_keys_are_nnis_in_search_space_order(reduction: bool, prefix: str) -> None:
    layer = ENASMicroLayer(2, 4, 4, 4, reduction)
    assert _keys(layer) == _micro_node_keys(prefix, 0) + _micro_node_keys(prefix, 1)
    assert isinstance(layer.nodes[1], MutableScope)
    assert layer.nodes[1].cell_x.input_choice.choose_from == ["", "", f"{prefix}_node_0"]
    assert layer.nodes[0].cell_y.input_choice.n_chosen == 1


def test_micro_candidates_are_two_sepconvs_two_pools_and_identity_in_nnis_order() -> None:
    ops = list(ENASMicroLayer(1, 4, 4, 4, False).nodes[0].cell_x.op_choice)
    assert [type(op) for op in ops] == [SepConvBN, SepConvBN, Pool, Pool, nn.Identity]
    assert ops[0].conv.depthwise.kernel_size == (3, 3)
    assert ops[1].conv.depthwise.kernel_size == (5, 5)
    assert isinstance(ops[2].pool, nn.AvgPool2d) and isinstance(ops[3].pool, nn.MaxPool2d)


def test_micro_layer_state_dict_names_and_shapes_are_nnis() -> None:
    state = ENASMicroLayer(1, 6, 8, 4, True).state_dict()
    cell = "nodes.0.cell_x.op_choice."
    for i in (0, 1):
        assert state[f"{cell}{i}.conv.pointwise.weight"].shape == (4, 4, 1, 1)
        for stat in ("weight", "bias", *BN_STATS):
            assert f"{cell}{i}.bn.{stat}" in state
    assert state[f"{cell}0.conv.depthwise.weight"].shape == (4, 1, 3, 3)
    assert state[f"{cell}1.conv.depthwise.weight"].shape == (4, 1, 5, 5)
    assert state["reduce0.conv1.weight"].shape == (2, 6, 1, 1)
    assert state["reduce1.conv2.weight"].shape == (2, 8, 1, 1)
    assert state["final_conv_w"].shape == (4, 3, 4, 1, 1)
    assert {name for name in state if not name.startswith("nodes.")} == {
        "reduce0.conv1.weight",
        "reduce0.conv2.weight",
        *(f"reduce0.bn.{s}" for s in BN_STATS),
        "reduce1.conv1.weight",
        "reduce1.conv2.weight",
        *(f"reduce1.bn.{s}" for s in BN_STATS),
        "final_conv_w",
        *(f"bn.{s}" for s in BN_STATS),
    }


def test_micro_calibration_converts_only_differing_channels() -> None:
    layer = ENASMicroLayer(1, 6, 4, 4, False)
    assert layer.preproc1.process is None
    assert layer.state_dict()["preproc0.process.conv.0.weight"].shape == (4, 6, 1, 1)


def _micro_arch(prefix: str, inputs: list[tuple[int, int]]) -> dict:
    arch = {}
    for i, (x, y) in enumerate(inputs):
        node = f"{prefix}_node_{i}"
        arch |= {f"{node}_x_input": x, f"{node}_y_input": y, f"{node}_x_op": 4, f"{node}_y_op": 2}
    return arch


@pytest.mark.parametrize("reduction", [False, True])
def test_micro_output_mixes_only_the_unused_nodes(reduction: bool) -> None:
    torch.manual_seed(0)
    layer = ENASMicroLayer(2, 6, 6, 4, reduction)
    # Node 0 reads inputs 0 and 1, node 1 reads node 0: only node 1 (index 3) is unused.
    apply_fixed_architecture(
        layer, _micro_arch("reduce" if reduction else "normal", [(0, 1), (2, 2)]), verbose=False
    )
    prev, out = layer(torch.randn(2, 6, 8, 8), torch.randn(2, 6, 8, 8))
    side = 4 if reduction else 8
    assert out.shape == (2, 4, side, side) and prev.shape == (2, 4 if reduction else 6, side, side)
    out.sum().backward()
    grad = layer.final_conv_w.grad
    assert grad[:, 3].abs().sum() > 0 and grad[:, :3].abs().sum() == 0


def _macro_keys(num_layers: int) -> list[tuple[str, str]]:
    keys, counter = [], 0
    for layer in range(num_layers):
        counter += 1
        keys += [("ENASMacroLayer", f"layer_{layer}"), ("LayerChoice", f"LayerChoice{counter}")]
        if layer:
            counter += 1
            keys.append(("InputChoice", f"InputChoice{counter}"))
    return keys


def test_macro_model_keys_are_nnis_with_automatic_choice_keys() -> None:
    _reset_global_mutable_counting()
    model = ENASMacroGeneralModel(num_layers=3, out_filters=4)
    assert _keys(model) == _macro_keys(3)
    assert model.layers[2].skipconnect.choose_from == ["layer_0", "layer_1"]
    assert model.layers[2].skipconnect.n_chosen is None and model.layers[0].skipconnect is None


def test_macro_candidates_are_four_conv_branches_and_two_pool_branches() -> None:
    ops = list(ENASMacroLayer("l", [], 4, 4).mutable)
    assert [type(op) for op in ops] == [ConvBranch] * 4 + [PoolBranch] * 2
    plain, separable = [op.conv for op in ops[0:4:2]], [op.conv for op in ops[1:4:2]]
    assert [conv.kernel_size for conv in plain] == [(3, 3), (5, 5)]
    assert [conv.depthwise.kernel_size for conv in separable] == [(3, 3), (5, 5)]
    assert isinstance(ops[4].pool.pool, nn.AvgPool2d) and isinstance(ops[5].pool.pool, nn.MaxPool2d)


def test_macro_model_state_dict_names_and_shapes_are_nnis() -> None:
    state = ENASMacroGeneralModel(num_layers=6, out_filters=4, num_classes=5).state_dict()
    assert state["stem.0.weight"].shape == (4, 3, 3, 3) and "stem.1.weight" in state
    assert state["layers.0.mutable.0.preproc.conv.0.weight"].shape == (4, 4, 1, 1)
    assert state["layers.0.mutable.0.conv.weight"].shape == (4, 4, 3, 3)
    assert state["layers.0.mutable.1.conv.depthwise.weight"].shape == (4, 1, 3, 3)
    assert state["layers.0.mutable.3.conv.pointwise.weight"].shape == (4, 4, 1, 1)
    assert "layers.0.mutable.4.bn.running_mean" in state
    assert "layers.5.batch_norm.running_var" in state
    # Pooling after layers 1 and 3 (num_layers // 3 - 1 and 2 * (num_layers // 3) - 1).
    assert [name for name in state if name.endswith("conv1.weight")] == [
        "pool_layers.0.conv1.weight",
        "pool_layers.1.conv1.weight",
    ]
    assert state["dense.weight"].shape == (5, 4)


def test_macro_model_trains_with_a_conv_branch_and_skip_connections(backend: str) -> None:
    # NNI's `out += connection` modifies the ConvBranch's ReLU output in place, and the
    # backward fails; the sum here is out of place.
    torch.manual_seed(1)
    _reset_global_mutable_counting()
    model = ENASMacroGeneralModel(num_layers=3, out_filters=4, num_classes=3)
    arch = {m.key: 0 for m in model.modules() if isinstance(m, LayerChoice)}
    arch |= {key: [True] * n for key, n in (("InputChoice3", 1), ("InputChoice5", 2))}
    apply_fixed_architecture(model, arch, verbose=False)
    logits = model(torch.randn(2, 3, 8, 8))
    assert logits.shape == (2, 3)
    logits.sum().backward()
    assert model.stem[0].weight.grad.abs().sum() > 0


def test_macro_layer_without_any_skip_is_the_branch_then_batch_norm() -> None:
    torch.manual_seed(2)
    _reset_global_mutable_counting()
    model = ENASMacroGeneralModel(num_layers=2, out_filters=4)
    layer = model.layers[1]
    arch = {"LayerChoice1": 0, "LayerChoice2": 4, "InputChoice3": []}
    apply_fixed_architecture(model, arch, verbose=False)
    x, other = torch.randn(2, 4, 6, 6), torch.randn(2, 4, 6, 6)
    assert isinstance(layer.mutable, PoolBranch)  # the fixed choice replaced the LayerChoice
    expected = layer.batch_norm(layer.mutable(x))
    assert torch.allclose(layer([other, x]), expected)
