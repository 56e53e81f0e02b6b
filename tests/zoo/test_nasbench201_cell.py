"""``NASBench201Cell``: NNI v2.8's keys, candidates and state_dict names; the mean-reduced edges
and summed nodes; strides 1 and 2."""

import pytest
import torch
from torch import nn
from zoo_models import NB201_CANDIDATES, NB201_KEYS, TinyNB201Net

from nasops.algorithms.random import RandomMutator
from nasops.fixed import apply_fixed_architecture
from nasops.mutables import LayerChoice
from nasops.nasbench201 import NASBench201Cell

BN_STATE = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
# NNI's examples/nas/search_space_zoo/fixed-architecture.json at v2.8.
NNI_EXAMPLE_ARC = {
    "0_1": "avg_pool_3x3",
    "0_2": "conv_1x1",
    "1_2": "skip_connect",
    "0_3": "conv_1x1",
    "1_3": "skip_connect",
    "2_3": "skip_connect",
}


def _fixed_cell(arc_value: object, *args: object) -> NASBench201Cell:
    cell = NASBench201Cell(0, *args)
    apply_fixed_architecture(cell, dict.fromkeys(NB201_KEYS, arc_value), verbose=False)
    return cell


def test_edge_keys_candidates_and_mean_reduction_are_nnis() -> None:
    cell = NASBench201Cell("c", 4, 4, 1)
    assert [m.key for m in RandomMutator(cell).mutables] == NB201_KEYS
    edges = [m for m in cell.modules() if isinstance(m, LayerChoice)]
    assert all(edge.names == NB201_CANDIDATES and edge.reduction == "mean" for edge in edges)
    assert (cell.NUM_NODES, cell.in_dim, cell.out_dim, cell.cell_id) == (4, 4, 4, "c")


def test_state_dict_names_match_nni() -> None:
    names = set(NASBench201Cell(0, 4, 4, 1).state_dict())
    expected = set()
    for key in NB201_KEYS:
        source, target = key.split("_")
        for conv in ("conv_3x3", "conv_1x1"):  # pooling, zero and identity hold no state
            prefix = f"layers.{target}.{source}.{conv}.op"
            expected |= {f"{prefix}.1.weight"} | {f"{prefix}.2.{s}" for s in BN_STATE}
    assert names == expected


def test_batchnorm_options_reach_every_batchnorm() -> None:
    cell = NASBench201Cell(0, 4, 4, 1, bn_affine=False, bn_momentum=0.3)
    bns = [m for m in cell.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(bns) == 12 and all(bn.momentum == 0.3 and not bn.affine for bn in bns)
    untracked = NASBench201Cell(0, 4, 4, 1, bn_track_running_stats=False)
    assert not any("running" in name for name in untracked.state_dict())


def test_a_reducing_cell_changes_resolution_and_channels_on_the_input_edges_only() -> None:
    names = set(NASBench201Cell(0, 4, 8, 2).state_dict())
    assert "layers.1.0.skip_connect.convs.1.weight" in names  # FactorizedReduce, as NNI names it
    assert "layers.1.0.avg_pool_3x3.preprocess.op.1.weight" in names
    assert not any(n.startswith(("layers.2.1.skip_connect", "layers.3.2.avg_pool")) for n in names)


@pytest.mark.parametrize(("c_in", "c_out", "stride"), [(4, 4, 1), (4, 8, 1), (4, 4, 2), (4, 8, 2)])
def test_output_shape_follows_stride_and_channels(c_in: int, c_out: int, stride: int) -> None:
    cell = NASBench201Cell(0, c_in, c_out, stride)
    mutator = RandomMutator(cell)
    for _ in range(4):
        mutator.reset()
        out = cell(torch.randn(2, c_in, 8, 8))
        assert out.shape == (2, c_out, 8 // stride, 8 // stride)


def test_nodes_sum_their_edges() -> None:
    # node1 = x, node2 = x + node1, node3 = x + node1 + node2 = 4x
    x = torch.randn(2, 4, 8, 8)
    assert torch.allclose(_fixed_cell("skip_connect", 4, 4, 1)(x), 4 * x)


def test_edges_average_their_selected_candidates() -> None:
    # Each edge is mean(identity, zero) = half its input: node1 = x/2, node2 = x/2 + x/4,
    # node3 = x/2 + x/4 + 3x/8 = 9x/8.
    x = torch.randn(2, 4, 8, 8)
    assert torch.allclose(_fixed_cell(["skip_connect", "none"], 4, 4, 1)(x), 9 * x / 8)


def test_none_everywhere_gives_zeros_of_the_output_shape() -> None:
    out = _fixed_cell("none", 4, 8, 2)(torch.randn(2, 4, 8, 8))
    assert out.shape == (2, 8, 4, 4) and not out.any()


def test_nnis_example_architecture_applies_and_runs() -> None:
    cell = NASBench201Cell(0, 4, 4, 1)
    apply_fixed_architecture(cell, NNI_EXAMPLE_ARC, verbose=False)
    assert not any(isinstance(m, LayerChoice) for m in cell.modules())
    assert isinstance(cell.layers[2][1], nn.Identity)  # "1_2": skip_connect
    cell(torch.randn(2, 4, 8, 8)).sum().backward()


def test_random_search_on_a_stack_of_cells(backend: str) -> None:
    torch.manual_seed(0)
    model = TinyNB201Net()
    mutator = RandomMutator(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = torch.randn(2, 3, 8, 8), torch.tensor([1, 0])
    for _ in range(3):
        mutator.reset()
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(images), labels).backward()
        optimizer.step()
    arc = mutator.export()
    assert list(arc) == NB201_KEYS and set(arc.values()) <= set(NB201_CANDIDATES)
    retrain = TinyNB201Net()
    apply_fixed_architecture(retrain, arc, verbose=False)
    assert retrain(images).shape == (2, 3)
