"""The pieces under the command: the supernet sized to the images, the architecture read as
cells, and the pictures."""

import pytest
import torch

from nasops.algorithms.random import RandomMutator
from nasops.mutables import LayerChoice
from nasops.search import genotype
from nasops.search.recorder import SearchRecorder
from nasops.search.supernet import SPACES, SearchSupernet
from nasops.utils import _reset_global_mutable_counting

NAMES = list(genotype.choices_of(SearchSupernet(1, (8, 8), 2, channels=2))["normal_n2_p0"].names)


def _supernet(**kwargs) -> SearchSupernet:
    _reset_global_mutable_counting()
    return SearchSupernet(**{"in_channels": 1, "image_size": (8, 8), "n_classes": 10, **kwargs})


@pytest.mark.parametrize(
    ("channels", "size"), [(1, (8, 8)), (3, (7, 7)), (1, (28, 28)), (3, (64, 48)), (1, (3, 5))]
)
def test_the_supernet_takes_any_image_size_and_gives_one_logit_per_class(channels, size):
    model = _supernet(in_channels=channels, image_size=size, n_classes=4, channels=2)
    RandomMutator(model).reset()
    assert model(torch.randn(2, channels, *size)).shape == (2, 4)


def test_large_images_are_halved_by_the_stem_until_the_cells_see_at_most_16_pixels():
    model = _supernet(image_size=(64, 48), channels=2)
    assert model.stem(torch.randn(1, 1, 64, 48)).shape[-2:] == (16, 12)
    assert _supernet(channels=2).stem(torch.randn(1, 1, 8, 8)).shape[-2:] == (8, 8)


@pytest.mark.parametrize("layers", [2, 3, 4])
def test_the_middle_cell_is_the_one_reduction_cell(layers) -> None:
    model = _supernet(layers=layers, channels=2)
    assert [cell.reduction for cell in model.cells] == [i == layers // 2 for i in range(layers)]


def test_every_build_has_the_same_keys_normal_and_reduce() -> None:
    keys = set(genotype.choices_of(_supernet(channels=2)))
    assert keys == set(genotype.choices_of(_supernet(channels=2, layers=4)))
    assert {key.split("_")[0] for key in keys} == {"normal", "reduce"}
    assert len(keys) == 2 * (2 + 3 + 2)  # per cell: node 2's two edges, node 3's three, 2 switches


def test_fewer_than_two_layers_are_refused() -> None:
    with pytest.raises(ValueError, match="layers must be >= 2"):
        _supernet(layers=1)


def test_an_unknown_space_is_refused_naming_the_spaces() -> None:
    with pytest.raises(ValueError, match=r"space must be one of .*'enas'.*got 'nas'"):
        _supernet(space="nas")


@pytest.mark.parametrize("space", SPACES)
@pytest.mark.parametrize("layers", [2, 3])
def test_every_space_runs_any_depth_to_one_logit_per_class(space, layers) -> None:
    model = _supernet(channels=2, space=space, layers=layers, image_size=(7, 9), n_classes=3)
    RandomMutator(model).reset()
    assert model(torch.randn(2, 1, 7, 9)).shape == (2, 3)


def test_all_edges_cells_search_layer_choices_only() -> None:
    choices = genotype.choices_of(_supernet(channels=2, space="darts-all-edges"))
    assert all(isinstance(choice, LayerChoice) for choice in choices.values())
    assert set(choices) == {k for k in genotype.choices_of(_supernet(channels=2)) if "_p" in k}


def test_enas_layers_have_nnis_micro_keys() -> None:
    keys = set(genotype.choices_of(_supernet(channels=2, space="enas")))
    assert keys == {
        f"{kind}_node_{node}_{half}_{what}"
        for kind in ("normal", "reduce")
        for node in (0, 1)
        for half in "xy"
        for what in ("input", "op")
    }


ARCHITECTURE = {
    "normal_n2_p0": "sepconv3x3",
    "normal_n2_p1": "skipconnect",
    "normal_n2_switch": ["normal_n2_p0", "normal_n2_p1"],
    "normal_n3_p0": [],
    "normal_n3_p1": "maxpool",
    "normal_n3_p2": "dilconv5x5",
    "normal_n3_switch": ["normal_n3_p1", "normal_n3_p2"],
    "reduce_n2_p0": "avgpool",
    "reduce_n2_p1": "sepconv5x5",
    "reduce_n2_switch": ["reduce_n2_p0", "reduce_n2_p1"],
    "reduce_n3_p0": "maxpool",
    "reduce_n3_p1": [],
    "reduce_n3_p2": "skipconnect",
    "reduce_n3_switch": ["reduce_n3_p0", "reduce_n3_p2"],
}


def test_the_architecture_reads_as_two_inputs_per_node_with_their_ops() -> None:
    cells = genotype.cells(ARCHITECTURE, genotype.choices_of(_supernet(channels=2)))
    assert genotype.describe(cells) == [
        "normal cell     node 0 = sepconv3x3(c_{k-2}) + skipconnect(c_{k-1})",
        "                node 1 = maxpool(c_{k-1}) + dilconv5x5(0)",
        "reduction cell  node 0 = avgpool(c_{k-2}) + sepconv5x5(c_{k-1})",
        "                node 1 = maxpool(c_{k-2}) + skipconnect(0)",
    ]


def test_all_edges_cells_read_every_edge_of_every_node() -> None:
    architecture = {k: v for k, v in ARCHITECTURE.items() if not k.endswith("_switch")}
    architecture |= {"normal_n3_p0": "avgpool", "reduce_n3_p1": "sepconv3x3"}
    model = _supernet(channels=2, space="darts-all-edges")
    cells = genotype.cells(architecture, genotype.choices_of(model))
    assert genotype.describe(cells)[:2] == [
        "normal cell     node 0 = sepconv3x3(c_{k-2}) + skipconnect(c_{k-1})",
        "                node 1 = avgpool(c_{k-2}) + maxpool(c_{k-1}) + dilconv5x5(0)",
    ]
    assert [cell.outputs for cell in cells] == [[2, 3], [2, 3]]


def test_enas_layers_read_as_two_ops_per_node_and_output_the_unread_vertices() -> None:
    def node(x: int, x_op: int, y: int, y_op: int) -> dict[str, int]:
        return {"x_input": x, "x_op": x_op, "y_input": y, "y_op": y_op}

    nodes = {"normal": [node(0, 0, 1, 4), node(2, 3, 2, 1)], "reduce": [node(1, 2, 1, 2)] * 2}
    architecture = {
        f"{kind}_node_{i}_{what}": value
        for kind, per_node in nodes.items()
        for i, choices in enumerate(per_node)
        for what, value in choices.items()
    }
    model = _supernet(channels=2, space="enas")
    cells = genotype.cells(architecture, genotype.choices_of(model))
    assert genotype.describe(cells) == [
        "normal cell     node 0 = sepconv3x3(c_{k-2}) + identity(c_{k-1})",
        "                node 1 = maxpool(0) + sepconv5x5(0)",
        "reduction cell  node 0 = avgpool(c_{k-1}) + avgpool(c_{k-1})",
        "                node 1 = avgpool(c_{k-1}) + avgpool(c_{k-1})",
    ]
    assert [cell.outputs for cell in cells] == [[3], [0, 2, 3]]


def test_multi_hot_lists_as_p_darts_exports_them_read_as_names() -> None:
    choices = genotype.choices_of(_supernet(channels=2))
    as_bools = {}
    for key, value in ARCHITECTURE.items():
        choice = choices[key]
        labels = choice.names if isinstance(choice, LayerChoice) else choice.choose_from
        chosen = value if isinstance(value, list) else [value]
        as_bools[key] = [label in chosen for label in labels]
    assert genotype.readable(as_bools, choices) == genotype.readable(ARCHITECTURE, choices)
    assert genotype.readable(as_bools, choices)["normal_n2_p0"] == "sepconv3x3"


def _recorder(weights: bool) -> SearchRecorder:
    recorder = SearchRecorder({"normal_n2_p0": NAMES, "reduce_n2_p1": NAMES}, weights)
    recorder.history = [
        {"epoch": e, "train": {"loss": 2.0 / e, "acc": 0.3 * e}, "valid": {"acc": 0.25 * e}}
        for e in (1, 2, 3)
    ]
    if weights:
        recorder.weight_epochs = [1, 2, 3]
        rows = [[0.125] * 8, [0.125] * 8, [None] * 3 + [0.2] * 5]  # a stage dropped three
        recorder.weights = {key: rows for key in recorder.candidates}
    return recorder


@pytest.mark.parametrize("weights", [True, False])
def test_search_png_is_drawn_with_and_without_edge_weights(tmp_path, weights) -> None:
    pytest.importorskip("matplotlib")
    from nasops.search import plots

    plots.write_search_png(tmp_path / "search.png", _recorder(weights), "title")
    assert (tmp_path / "search.png").read_bytes()[:4] == b"\x89PNG"


def test_arch_png_draws_cells_of_any_node_count(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from nasops.search import plots

    model = _supernet(channels=2, n_nodes=3)
    torch.manual_seed(0)
    architecture = RandomMutator(model).export()
    cells = genotype.cells(architecture, genotype.choices_of(model))
    assert [len(cell.nodes) for cell in cells] == [3, 3]
    plots.write_arch_png(tmp_path / "arch.png", cells, "title", genotype.CAPTIONS["darts"])
    assert (tmp_path / "arch.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("space", SPACES)
def test_each_space_draws_its_exported_cells(tmp_path, space) -> None:
    pytest.importorskip("matplotlib")
    from nasops.search import plots

    model = _supernet(channels=2, space=space)
    torch.manual_seed(0)
    cells = genotype.cells(RandomMutator(model).export(), genotype.choices_of(model))
    assert [cell.kind for cell in cells] == ["normal", "reduce"]
    plots.write_arch_png(tmp_path / "arch.png", cells, "title", genotype.CAPTIONS[space])
    assert (tmp_path / "arch.png").read_bytes()[:4] == b"\x89PNG"


def test_arch_png_draws_two_operations_on_one_vertex(tmp_path) -> None:
    pytest.importorskip("matplotlib")
    from nasops.search import plots

    twice = [genotype.Edge(1, "identity"), genotype.Edge(1, "identity")]
    two = [genotype.Edge(2, "maxpool"), genotype.Edge(2, "avgpool")]
    cells = [genotype.Cell("normal", [twice, two], [3])]
    plots.write_arch_png(tmp_path / "arch.png", cells, "title", genotype.CAPTIONS["enas"])
    assert (tmp_path / "arch.png").read_bytes()[:4] == b"\x89PNG"
