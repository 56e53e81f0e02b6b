"""Keys, key sharing, search-space parsing and the mutable base behaviour (§3.1–3.3, §3.6)."""

import copy
import logging

import pytest
import torch
from spaces import MaskMutator
from torch import nn

from nasops.base_mutator import BaseMutator
from nasops.mutables import InputChoice, LayerChoice, MutableScope
from nasops.utils import StructuredMutableTreeNode, _reset_global_mutable_counting


class Cell(MutableScope):
    def __init__(self, key, *children: nn.Module) -> None:
        super().__init__(key)
        self.body = nn.Sequential(*children)

    def forward(self, x):
        return self.body(x)


def test_automatic_keys_count_across_classes_and_skip_explicit_keys() -> None:
    _reset_global_mutable_counting()
    made = [
        LayerChoice([]),
        InputChoice(1),
        LayerChoice([], key="mine"),
        LayerChoice([]),
        Cell(None),
    ]
    assert [m.key for m in made] == [
        "LayerChoice1",
        "InputChoice2",
        "mine",
        "LayerChoice3",
        "Cell4",
    ]
    _reset_global_mutable_counting()
    assert LayerChoice([]).key == "LayerChoice1"


def test_non_string_key_is_converted_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert LayerChoice([], key=5).key == "5"
    assert 'Warning: key "5" is not string, converted to string.' in caplog.text


def test_key_is_read_only_and_name_is_the_key_until_parsed() -> None:
    lc = LayerChoice([nn.Identity()], key="k")
    with pytest.raises(AttributeError):
        lc.key = "other"
    assert lc.name == "k"
    model = nn.Sequential(nn.Sequential(lc))
    MaskMutator(model, {})
    assert lc.name == "0.0"


def _shared_model() -> nn.Module:
    model = nn.Module()
    model.cell0 = Cell("cell0", LayerChoice([nn.Identity()], key="cell0_op"))
    model.cell1 = Cell("cell1", LayerChoice([nn.Identity()], key="shared"))
    model.cell2 = Cell(
        "cell2", LayerChoice([nn.Identity()], key="shared"), InputChoice(1, key="ic")
    )
    return model


def test_traversal_orders_and_dedup() -> None:
    mutator = MaskMutator(_shared_model(), {})
    assert [m.key for m in mutator.mutables] == [
        "cell0", "cell0_op", "cell1", "shared", "cell2", "ic",
    ]  # fmt: skip
    assert [m.key for m in mutator.undedup_mutables] == [
        "cell0", "cell0_op", "cell1", "shared", "cell2", "shared", "ic",
    ]  # fmt: skip
    assert [m.key for m in mutator.mutables.traverse(order="post")] == [
        "cell0_op", "cell0", "shared", "cell1", "ic", "cell2",
    ]  # fmt: skip
    assert isinstance(mutator.mutables, StructuredMutableTreeNode)
    assert mutator.mutables.mutable is None and mutator.mutables.children[0].type() is Cell
    with pytest.raises(TypeError):
        len(mutator.mutables)


def test_shared_key_is_one_decision_and_one_export_entry() -> None:
    model = _shared_model()
    masks = {"cell0_op": [True], "shared": torch.tensor([True]), "ic": [True]}
    mutator = MaskMutator(model, masks)
    mutator.reset()
    assert model.cell1.body[0].mutator is model.cell2.body[0].mutator is mutator
    # A single "" in choose_from is a unique name, so NNI exports the name "" (§3.10).
    assert mutator.export() == {"cell0_op": 0, "shared": 0, "ic": ""}


def test_shared_key_with_a_different_length_fails_on_forward() -> None:
    model = nn.Module()
    model.a = LayerChoice([nn.Identity()] * 3, key="s")
    model.b = LayerChoice([nn.Identity()] * 2, key="s")
    mutator = MaskMutator(model, {"s": torch.tensor([True, False, False])})
    mutator.reset()
    model.a(torch.ones(1))
    with pytest.raises(AssertionError, match=r"Invalid mask, expected .* to be of length 2\."):
        model.b(torch.ones(1))


def test_scope_in_scope_is_allowed() -> None:
    model = Cell("outer", Cell("inner", LayerChoice([nn.Identity()], key="op")))
    mutator = MaskMutator(model, {})
    assert [m.key for m in mutator.mutables] == ["outer", "inner", "op"]
    assert [c.mutable.key for c in mutator.mutables.children[0].children] == ["inner"]


@pytest.mark.parametrize("inner", [InputChoice(1), Cell("scope")])
def test_mutable_inside_a_choice_raises(inner: nn.Module) -> None:
    model = nn.Sequential(LayerChoice([nn.Sequential(inner)]))
    with pytest.raises(RuntimeError, match=r"Cannot have nested search space. Error at "):
        MaskMutator(model, {})


def test_choose_from_accepts_earlier_and_enclosing_keys_only() -> None:
    model = nn.Module()
    model.op = LayerChoice([nn.Identity()], key="op")
    model.cell = Cell("cell", InputChoice(choose_from=["op", "cell", "", "ic"], key="ic"))
    MaskMutator(model, {})  # "ic" names itself: NNI counts it as already seen
    later = nn.Module()
    later.ic = InputChoice(choose_from=["op"], key="ic")
    later.op = LayerChoice([nn.Identity()], key="op")
    with pytest.raises(
        RuntimeError,
        match=r"'op' required by 'ic' not found in keys that appeared before, and is not NO_KEY.",
    ):
        MaskMutator(later, {})


def test_module_registered_twice_is_parsed_once() -> None:
    lc = LayerChoice([nn.Identity()], key="lc")
    model = nn.Module()
    model.first, model.second = lc, lc
    mutator = MaskMutator(model, {})
    assert [m.name for m in mutator.undedup_mutables] == ["first"]


def test_unparsed_choices_raise_and_unparsed_scope_is_a_plain_module() -> None:
    with pytest.raises(ValueError, match=r"^Mutator not set for LayerChoice\(\n  \(0\): Identity"):
        LayerChoice([nn.Identity()])(torch.ones(1))
    with pytest.raises(ValueError, match="You might have forgotten to initialize"):
        InputChoice(1)([torch.ones(1)])
    assert Cell("c", nn.Identity())(torch.ones(2)).tolist() == [1.0, 1.0]


def test_deepcopy_raises() -> None:
    with pytest.raises(NotImplementedError, match=r"Deep copy doesn't work for mutables."):
        copy.deepcopy(nn.Sequential(LayerChoice([nn.Identity()])))


def test_scope_callbacks_wrap_each_call_even_on_error() -> None:
    log: list[str] = []

    class Logging(MaskMutator):
        def enter_mutable_scope(self, scope):
            log.append("enter " + scope.key)

        def exit_mutable_scope(self, scope):
            log.append("exit " + scope.key)

    model = nn.Sequential(Cell("c0", nn.Identity()), Cell("c1", nn.Identity()))
    Logging(model, {})
    model(torch.ones(1))
    assert log == ["enter c0", "exit c0", "enter c1", "exit c1"]
    log.clear()
    with pytest.raises(TypeError):
        model[0]("not a tensor", "extra")
    assert log == ["enter c0", "exit c0"]


def test_mutator_is_not_a_module_container_of_the_model() -> None:
    model = nn.Sequential(LayerChoice([nn.Linear(2, 2)]))
    mutator = MaskMutator(model, {})
    assert mutator.model is model and list(mutator.parameters()) == []
    with pytest.raises(AttributeError, match="Attribute `model` can be set at most once"):
        mutator.model = model
    with pytest.raises(RuntimeError, match=r"Forward is undefined for mutators."):
        mutator(torch.ones(1))


def test_base_mutator_callbacks_are_abstract() -> None:
    mutator = BaseMutator(nn.Sequential(LayerChoice([nn.Identity()])))
    with pytest.raises(NotImplementedError):
        mutator.export()
    with pytest.raises(NotImplementedError):
        mutator.on_forward_input_choice(None, [])


def test_forward_without_reset_names_the_missing_key() -> None:
    model = nn.Sequential(LayerChoice([nn.Identity()], key="lc"))
    MaskMutator(model, {"lc": [True]})
    with pytest.raises(ValueError, match=r'^"lc" not found in decision cache.$'):
        model(torch.ones(1))
