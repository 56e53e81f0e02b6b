"""``DartsCell`` and its ``Node``: NNI v2.8's keys, candidates, state_dict names and forward."""

import pytest
import torch
from torch import nn
from zoo_models import DARTS_CANDIDATES, NORMAL_KEYS_4_NODES, REDUCE_KEYS_4_NODES, TinyDartsNet

from nasops.algorithms.random import RandomMutator
from nasops.fixed import apply_fixed_architecture
from nasops.mutables import InputChoice, LayerChoice
from nasops.search_space_zoo import DartsCell
from nasops.search_space_zoo.darts_cell import Node

BN_STATS = ("running_mean", "running_var", "num_batches_tracked")  # affine=False: no weight
# The state of one edge, by candidate: convolution weights and BatchNorms, as NNI names them.
EDGE_CONVS = [
    "sepconv3x3.net.0.net.1",
    "sepconv3x3.net.0.net.2",
    "sepconv3x3.net.1.net.1",
    "sepconv3x3.net.1.net.2",
    "sepconv5x5.net.0.net.1",
    "sepconv5x5.net.0.net.2",
    "sepconv5x5.net.1.net.1",
    "sepconv5x5.net.1.net.2",
    "dilconv3x3.net.1",
    "dilconv3x3.net.2",
    "dilconv5x5.net.1",
    "dilconv5x5.net.2",
]
EDGE_BNS = [
    "maxpool.bn",
    "avgpool.bn",
    "sepconv3x3.net.0.net.3",
    "sepconv3x3.net.1.net.3",
    "sepconv5x5.net.0.net.3",
    "sepconv5x5.net.1.net.3",
    "dilconv3x3.net.3",
    "dilconv5x5.net.3",
]
# A stride-2 edge's skipconnect is a FactorizedReduce; a stride-1 one is an Identity.
REDUCE_SKIP_CONVS = ["skipconnect.conv1", "skipconnect.conv2"]
REDUCE_SKIP_BNS = ["skipconnect.bn"]


def _state_names(convs: list[str], bns: list[str], prefix: str = "") -> set[str]:
    names = {f"{prefix}{conv}.weight" for conv in convs}
    return names | {f"{prefix}{bn}.{stat}" for bn in bns for stat in BN_STATS}


def _keys(module: nn.Module) -> list[str]:
    return [mutable.key for mutable in RandomMutator(module).mutables]


@pytest.mark.parametrize(
    ("reduction", "expected"), [(False, NORMAL_KEYS_4_NODES), (True, REDUCE_KEYS_4_NODES)]
)
def test_mutable_keys_are_nnis_in_search_space_order(reduction: bool, expected: list) -> None:
    assert _keys(DartsCell(4, 8, 8, 4, False, reduction)) == expected


def test_every_edge_offers_nnis_seven_candidates_summed() -> None:
    cell = DartsCell(4, 8, 8, 4, False, False)
    edges = [m for m in cell.modules() if isinstance(m, LayerChoice)]
    assert len(edges) == 2 + 3 + 4 + 5
    for edge in edges:
        assert edge.names == DARTS_CANDIDATES
        assert edge.reduction == "sum" and not edge.return_mask


def test_each_switch_chooses_two_of_its_nodes_edges_by_their_keys() -> None:
    cell = DartsCell(4, 8, 8, 4, False, False)
    for depth, node in enumerate(cell.mutable_ops, start=2):
        switch = node.input_switch
        assert isinstance(switch, InputChoice)
        assert switch.choose_from == [f"normal_n{depth}_p{i}" for i in range(depth)]
        assert (switch.n_chosen, switch.reduction, switch.key) == (
            2,
            "sum",
            f"normal_n{depth}_switch",
        )


@pytest.mark.parametrize("reduction_p", [False, True])
def test_preprocessing_state_names_match_nni(reduction_p: bool) -> None:
    names = set(DartsCell(2, 8, 8, 4, reduction_p, False).state_dict())
    preproc1 = _state_names(["preproc1.1"], ["preproc1.2"])
    if reduction_p:  # FactorizedReduce
        preproc0 = _state_names(["preproc0.conv1", "preproc0.conv2"], ["preproc0.bn"])
    else:  # StdConv: ReLU, Conv, BN as Sequential children 0, 1, 2
        preproc0 = _state_names(["preproc0.1"], ["preproc0.2"])
    assert {n for n in names if n.startswith("preproc")} == preproc0 | preproc1


def test_edge_state_names_match_nni_and_the_whole_cell_is_made_of_them() -> None:
    normal = set(DartsCell(4, 8, 8, 4, False, False).state_dict())
    reduce = set(DartsCell(4, 8, 8, 4, False, True).state_dict())
    stride1 = _state_names(EDGE_CONVS, EDGE_BNS)
    stride2 = _state_names(EDGE_CONVS + REDUCE_SKIP_CONVS, EDGE_BNS + REDUCE_SKIP_BNS)
    assert {n for n in normal if n.startswith("mutable_ops.3.ops.4.")} == _state_names(
        EDGE_CONVS, EDGE_BNS, "mutable_ops.3.ops.4."
    )
    assert "mutable_ops.0.ops.1.skipconnect.conv1.weight" in reduce  # from an input: stride 2
    assert not any(n.startswith("mutable_ops.1.ops.2.skipconnect") for n in reduce)  # node edge
    # 8 preprocessing entries; 14 edges (2 + 3 + 4 + 5), in a reduction cell 8 from the inputs.
    assert len(normal) == 8 + 14 * len(stride1)
    assert len(reduce) == 8 + 8 * len(stride2) + 6 * len(stride1)
    assert not any("drop_path" in n or "input_switch" in n for n in normal | reduce)


@pytest.mark.parametrize(
    ("reduction_p", "reduction", "prev_side", "out_side"),
    [(False, False, 8, 8), (False, True, 8, 4), (True, False, 4, 4)],
    ids=["normal", "reduction", "after-reduction"],
)
def test_output_has_n_nodes_times_channels_at_the_cells_resolution(
    reduction_p: bool, reduction: bool, prev_side: int, out_side: int
) -> None:
    cell = DartsCell(3, 6, 5, 4, reduction_p, reduction)
    mutator = RandomMutator(cell)
    for _ in range(3):
        mutator.reset()
        out = cell(torch.randn(2, 6, 8, 8), torch.randn(2, 5, prev_side, prev_side))
        assert out.shape == (2, 3 * 4, out_side, out_side)


def test_output_is_the_channel_concatenation_of_the_nodes() -> None:
    cell = DartsCell(3, 4, 4, 4, False, False)
    RandomMutator(cell).reset()
    nodes = []
    for node in cell.mutable_ops:
        node.register_forward_hook(lambda module, args, out: nodes.append(out))
    out = cell(torch.randn(2, 4, 8, 8), torch.randn(2, 4, 8, 8))
    assert torch.equal(out, torch.cat(nodes, dim=1))


def _node_with_pruned_edge(switch: list[str]) -> Node:
    node = Node("normal_n3", 3, 4, 0)
    arc = {
        "normal_n3_p0": "skipconnect",
        "normal_n3_p1": "skipconnect",
        "normal_n3_p2": [],
        "normal_n3_switch": switch,
    }
    apply_fixed_architecture(node, arc, verbose=False)
    return node


def test_an_edge_that_selects_nothing_gives_none_and_the_node_sums_the_chosen_two() -> None:
    node = _node_with_pruned_edge(["normal_n3_p0", "normal_n3_p1"])
    assert node.ops[2](torch.randn(2, 4, 8, 8)) is None
    xs = [torch.randn(2, 4, 8, 8) for _ in range(3)]
    assert torch.equal(node(xs), xs[0] + xs[1])


def test_a_switch_that_picks_a_pruned_edge_fails_as_in_nni() -> None:
    node = _node_with_pruned_edge(["normal_n3_p0", "normal_n3_p2"])
    with pytest.raises(TypeError):
        node([torch.randn(2, 4, 8, 8) for _ in range(3)])


def test_a_node_rejects_a_wrong_number_of_inputs() -> None:
    node = Node("normal_n3", 3, 4, 0)
    RandomMutator(node).reset()
    with pytest.raises(AssertionError, match="expected 3 previous nodes, got 2"):
        node([torch.randn(2, 4, 8, 8)] * 2)


def test_random_search_then_retraining_the_exported_architecture(backend: str) -> None:
    torch.manual_seed(0)
    model = TinyDartsNet()
    mutator = RandomMutator(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    images, labels = torch.randn(2, 3, 8, 8), torch.tensor([0, 2])
    for _ in range(3):
        mutator.reset()
        optimizer.zero_grad()
        logits = model(images)
        assert logits.shape == (2, 3)
        nn.functional.cross_entropy(logits, labels).backward()
        optimizer.step()
    arc = mutator.export()
    expected_keys = NORMAL_KEYS_4_NODES[:7] + REDUCE_KEYS_4_NODES[:7]  # n_nodes=2
    assert list(arc) == expected_keys
    for key, value in arc.items():
        if key.endswith("_switch"):  # n_chosen=2: two distinct edges of that node
            node = key.removesuffix("_switch")
            assert len(value) == 2 and len(set(value)) == 2
            assert all(edge.startswith(f"{node}_p") for edge in value)
        else:
            assert value in DARTS_CANDIDATES

    retrain = TinyDartsNet()
    apply_fixed_architecture(retrain, arc, verbose=False)
    assert not any(isinstance(m, LayerChoice) for m in retrain.modules())  # one op per edge
    retrain(images).sum().backward()
    assert retrain.stem[0].weight.grad is not None


def test_a_darts_style_architecture_with_pruned_edges_retrains(backend: str) -> None:
    # What DARTS exports: each node keeps two edges; the edges it drops select nothing ([]).
    arc = {}
    for kind in ("normal", "reduce"):
        arc.update({f"{kind}_n2_p0": "sepconv3x3", f"{kind}_n2_p1": "skipconnect"})
        arc.update({f"{kind}_n3_p0": [], f"{kind}_n3_p1": "maxpool", f"{kind}_n3_p2": "dilconv5x5"})
        arc[f"{kind}_n2_switch"] = [f"{kind}_n2_p0", f"{kind}_n2_p1"]
        arc[f"{kind}_n3_switch"] = [f"{kind}_n3_p1", f"{kind}_n3_p2"]
    model = TinyDartsNet()
    apply_fixed_architecture(model, arc, verbose=False)
    pruned = model.cells[1].mutable_ops[1].ops[0]
    assert isinstance(pruned, LayerChoice) and not list(pruned.state_dict())
    logits = model(torch.randn(2, 3, 8, 8))
    assert logits.shape == (2, 3)
    logits.sum().backward()
    conv = model.cells[2].mutable_ops[1].ops[2].net[1]
    assert conv.weight.grad is not None
