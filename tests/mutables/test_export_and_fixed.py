"""``export()`` (§3.10, fix 5), ``status()``, and fixed architectures (§3.11, fixes 2 and 7)."""

import json
import logging
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
from spaces import CountingOp, MaskMutator
from torch import nn

from nasops.fixed import FixedArchitecture, apply_fixed_architecture
from nasops.mutables import InputChoice, LayerChoice, MutableScope


def _model(names: list[str] | None = None, sources: list[str] | None = None, **lc) -> nn.Module:
    ops = [CountingOp(f) for f in (1.0, 2.0, 3.0)]
    model = nn.Module()
    model.lc = LayerChoice(
        OrderedDict(zip(names, ops, strict=True)) if names else ops, key="lc", **lc
    )
    model.ic = InputChoice(choose_from=sources or ["", "", ""], key="ic")
    return model


@pytest.mark.parametrize(
    ("names", "sources", "lc_mask", "ic_mask", "expected"),
    [
        (None, None, [False, True, False], [True, False, True], {"lc": 1, "ic": [0, 2]}),
        (["a", "b", "c"], ["lc", "x", "y"], [0, 1, 0], [1, 0, 0], {"lc": "b", "ic": "lc"}),
        (["1", "2", "3"], None, [0.0, 1.0, 0.0], [0, 0, 0], {"lc": 1, "ic": []}),
        (
            ["1", "b", "3"],
            None,
            [False, True, False],
            [True, True, True],
            {"lc": "b", "ic": [0, 1, 2]},
        ),
        (None, None, [0.25, 0.5, 0.25], [True] * 3, {"lc": [0.25, 0.5, 0.25], "ic": [0, 1, 2]}),
    ],
)
def test_export_is_human_readable(names, sources, lc_mask, ic_mask, expected) -> None:
    model = _model(names, sources)
    if sources:
        del model.ic
        model.x = MutableScope("x")
        model.y = MutableScope("y")
        model.ic = InputChoice(choose_from=sources, key="ic")  # after x and y: keys seen
    masks = {"lc": torch.tensor(lc_mask), "ic": torch.tensor(ic_mask)}
    assert MaskMutator(model, masks).export() == expected


def test_export_resamples_and_checks_keys() -> None:
    calls = []

    class Counting(MaskMutator):
        def sample_final(self):
            calls.append(1)
            return super().sample_final()

    masks = {"lc": [True, False, False], "ic": [True, False, False]}
    mutator = Counting(_model(), masks)
    mutator.export()
    mutator.export()
    assert len(calls) == 2
    masks["zz"] = [True]
    with pytest.raises(
        ValueError, match=r"^Unexpected keys returned from 'sample_final\(\)': \['zz'\]$"
    ):
        mutator.export()
    del masks["zz"], masks["ic"]
    with pytest.raises(KeyError, match="ic"):
        mutator.export()
    masks["ic"] = [True, False]
    with pytest.raises(
        AssertionError, match=r"\(ic: \[True, False\]\) either too short or too long"
    ):
        mutator.export()


def test_status_converts_tensors_to_lists() -> None:
    mutator = MaskMutator(
        _model(), {"lc": torch.tensor([True, False, False]), "ic": [0.5, 0.5, 0.0]}
    )
    mutator.reset()
    assert mutator.status() == {"lc": [True, False, False], "ic": [0.5, 0.5, 0.0]}


def test_mutable_paths_name_every_instance_of_a_key() -> None:
    model = nn.Module()
    model.cell = MutableScope("cell")
    model.cell.op = LayerChoice([nn.Identity()], key="op")
    model.again = LayerChoice([nn.Identity()], key="op")
    paths = MaskMutator(model, {}).mutable_paths()
    assert [[step["name"] for step in path] for path in paths["op"]] == [
        ["", "cell", "op"],
        ["", "again"],
    ]
    assert paths["cell"][0][-1] == {"type": "MutableScope", "name": "cell"}


# Every form of §3.11 for a 3-candidate LayerChoice, and the candidates it selects.
FORMS = [
    ("b", {1}),
    (2, {2}),
    (["a", "c"], {0, 2}),
    ([0, 2], {0, 2}),
    ([0, 1, 0], {0, 1}),  # int lists are indices, as in NNI
    ([False, True, True], {1, 2}),
    (torch.tensor([False, False, True]), {2}),
    ([], set()),
]


@pytest.mark.parametrize(("value", "selected"), FORMS)
def test_fixed_architecture_forms(value, selected: set[int]) -> None:
    model = _model(["a", "b", "c"], return_mask=True)
    arch = apply_fixed_architecture(model, {"lc": value, "ic": [0]}, verbose=False)
    _, mask = model.lc(torch.ones(1))
    assert mask.tolist() == [i in selected for i in range(3)]
    assert [c is None for c in model.lc] == [i not in selected for i in range(3)]
    assert isinstance(arch, FixedArchitecture) and model.ic([torch.ones(1)] * 3).item() == 1.0


def test_single_choice_is_replaced_by_the_candidate(caplog: pytest.LogCaptureFixture) -> None:
    model = _model(["a", "b", "c"])
    chosen = model.lc["b"]
    with caplog.at_level(logging.INFO, logger="nasops.fixed"):
        apply_fixed_architecture(model, {"lc": "b", "ic": 0}, verbose=True)
    assert model.lc is chosen
    assert "Replacing lc with candidate number 1." in caplog.text


def test_verbose_false_is_honoured(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="nasops.fixed"):
        apply_fixed_architecture(_model(), {"lc": 0, "ic": 1}, verbose=False)
    assert caplog.text == ""


def test_float_multi_hot_works_as_weights() -> None:
    model = _model()
    apply_fixed_architecture(model, {"lc": [0.5, 0.0, 2.0], "ic": [0.25, 0.0, 1.0]}, verbose=False)
    assert isinstance(model.lc, LayerChoice) and None not in list(model.lc)
    assert model.lc(torch.ones(1)).item() == 6.5
    assert model.ic([torch.ones(1), torch.ones(1), torch.ones(1) * 2]).item() == 2.25


def test_shared_keys_inside_sequential_are_all_replaced() -> None:
    model = nn.Sequential(
        LayerChoice([nn.ReLU(), nn.Tanh()], key="s"), LayerChoice([nn.ReLU(), nn.Tanh()], key="s")
    )
    apply_fixed_architecture(model, {"s": 1}, verbose=False)
    assert [type(m) for m in model] == [nn.Tanh, nn.Tanh]


def test_fixed_architecture_from_a_json_file(tmp_path: Path) -> None:
    path = tmp_path / "arc.json"
    path.write_text(json.dumps({"lc": "c", "ic": [False, True, False]}))
    model = _model(["a", "b", "c"])
    apply_fixed_architecture(model, str(path), verbose=False)
    assert (
        model.lc.factor == 3.0
        and model.ic([torch.ones(1), torch.ones(1) * 5, torch.ones(1)]).item() == 5.0
    )


@pytest.mark.parametrize(
    ("arc", "error", "message"),
    [
        (
            {"lc": 0, "ic": 0, "zz": 1},
            RuntimeError,
            r"^Unexpected keys found in fixed architecture: \{'zz'\}\.$",
        ),
        ({"lc": 0}, RuntimeError, r"^Missing keys in fixed architecture: \{'ic'\}\.$"),
        (
            {"lc": 3, "ic": 0},
            ValueError,
            r"index 3 for 'lc' is out of range; valid indices are 0\.\.2",
        ),
        ({"lc": -1, "ic": 0}, ValueError, r"index -1 for 'lc' is out of range"),
        (
            {"lc": "nope", "ic": 0},
            ValueError,
            r"'lc' has no candidate named 'nope'; valid names are \['a', 'b', 'c'\]",
        ),
        ({"lc": 0, "ic": "x"}, ValueError, r"'ic' has no candidate named 'x'"),
    ],
)
def test_fixed_architecture_errors(arc: dict, error: type, message: str) -> None:
    with pytest.raises(error, match=message):
        apply_fixed_architecture(_model(["a", "b", "c"]), arc, verbose=False)


def test_applying_twice_raises() -> None:
    model = _model()
    apply_fixed_architecture(model, {"lc": [0, 1], "ic": 0}, verbose=False)
    with pytest.raises(RuntimeError, match="`set_mutator` is called more than once"):
        apply_fixed_architecture(model, {"lc": [0, 1], "ic": 0}, verbose=False)
