"""LayerChoice and InputChoice construction, containers and call contracts (§3.4–3.5)."""

from collections import OrderedDict

import pytest
import torch
from spaces import CountingOp, MaskMutator
from torch import nn

from nasops.mutables import InputChoice, LayerChoice


@pytest.mark.parametrize("name", ["length", "reduction", "return_mask", "_key", "key", "names"])
def test_reserved_candidate_names_are_refused(name: str) -> None:
    with pytest.raises(AssertionError, match=f"Please don't use a reserved name '{name}'"):
        LayerChoice(OrderedDict([(name, nn.Identity())]))


@pytest.mark.parametrize("candidates", [(nn.Identity(),), {"a": nn.Identity()}, nn.ModuleList()])
def test_unsupported_candidate_containers_are_refused(candidates: object) -> None:
    with pytest.raises(TypeError, match=f"Unsupported op_candidates type: {type(candidates)}"):
        LayerChoice(candidates)


def test_container_protocol() -> None:
    a, b = nn.Linear(1, 1), nn.Linear(1, 2)
    lc = LayerChoice(OrderedDict([("a", a), ("b", b)]))
    assert lc["b"] is b and lc[-1] is b and lc[0:1] == [a] and list(lc) == [a, b]
    with pytest.raises(IndexError):
        lc[2]
    with pytest.raises(KeyError):
        lc["zz"]
    lc["hidden"] = nn.Identity()  # an unknown name registers a child but no candidate
    assert len(lc) == 2 and "hidden" in lc._modules
    assert lc.state_dict().keys() >= {"a.weight", "b.bias"}
    with pytest.warns(DeprecationWarning, match=r"Use `len\(layer_choice\)` instead."):
        assert lc.length == 2
    del lc[0:1]
    assert lc.names == ["b"]
    del lc[-1]
    assert len(LayerChoice([])) == 0 and len(lc) == 0


def test_reduction_is_not_validated_at_construction() -> None:
    assert LayerChoice([nn.Identity()], reduction="max").reduction == "max"
    assert InputChoice(2, reduction="max").reduction == "max"


def test_args_and_kwargs_reach_the_selected_candidate_only() -> None:
    ops = [CountingOp(2.0), CountingOp(3.0)]
    model = nn.Sequential(LayerChoice(ops, key="lc"))
    mutator = MaskMutator(model, {"lc": torch.tensor([False, True])})
    mutator.reset()
    assert model[0](torch.ones(2), scale=10.0).tolist() == [30.0, 30.0]
    assert [op.calls for op in ops] == [0, 1]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "At least one of `n_candidates` and `choose_from`must be not None."),
        ({"n_candidates": 2, "choose_from": ["a"]}, "Number of candidates must be equal"),
        ({"n_candidates": 0}, "Number of candidates must be greater than 0."),
        ({"n_candidates": 2, "n_chosen": 3}, "Expected selected number must be None or no more"),
        ({"n_candidates": 2, "n_chosen": -1}, "Expected selected number must be None or no more"),
    ],
)
def test_input_choice_validation(kwargs: dict, message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        InputChoice(**kwargs)


def test_input_choice_defaults_and_copies() -> None:
    sources = ["a", "b"]
    ic = InputChoice(choose_from=sources, n_chosen=0)
    sources.append("c")
    assert ic.n_candidates == 2 and ic.choose_from == ["a", "b"] and ic.n_chosen == 0
    assert InputChoice(n_candidates=3).choose_from == ["", "", ""]
    assert InputChoice.NO_KEY == ""


def _parsed_input_choice(mask: object, **kwargs: object) -> InputChoice:
    model = nn.Module()
    model.a = LayerChoice([nn.Identity()], key="a")
    model.b = LayerChoice([nn.Identity()], key="b")
    model.ic = InputChoice(choose_from=["a", "b"], key="ic", **kwargs)
    mutator = MaskMutator(model, {"a": [True], "b": [True], "ic": mask})
    mutator.reset()
    return model.ic


def test_dict_inputs_follow_choose_from() -> None:
    ic = _parsed_input_choice([False, True])
    assert ic({"b": torch.ones(1) * 2, "a": torch.ones(1)}).item() == 2.0
    with pytest.raises(KeyError):
        ic({"a": torch.ones(1)})
    # NNI checks the dict's own length, so an extra entry fails.
    with pytest.raises(AssertionError, match="Length of the input list must be equal"):
        ic({"a": torch.ones(1), "b": torch.ones(1), "c": torch.ones(1)})


def test_input_list_type_and_length_are_checked() -> None:
    ic = _parsed_input_choice([True, True])
    with pytest.raises(
        AssertionError, match=r"Optional input list must be a list, not a <class 'tuple'>."
    ):
        ic((torch.ones(1), torch.ones(1)))
    with pytest.raises(AssertionError, match="Length of the input list must be equal"):
        ic([torch.ones(1)])


def test_return_mask_hands_back_the_cached_mask_object() -> None:
    mask = torch.tensor([True, False])
    ic = _parsed_input_choice(mask, return_mask=True)
    out, returned = ic([torch.ones(1), torch.zeros(1)])
    assert returned is mask and out.item() == 1.0
    out, returned = _parsed_input_choice([True, False], return_mask=True)([torch.ones(1)] * 2)
    assert returned.dtype == torch.bool and returned.tolist() == [True, False]
