"""NasMutator: group naming and validation, arch params, sampling and setting choices."""

import pytest
import torch
from razor_helpers import scales
from torch import nn

from nasops.razor import (
    DiffChoiceRoute,
    DiffMutableOP,
    NasMutator,
    OneShotMutableOP,
    OneShotMutableValue,
)


class OneShotNet(nn.Module):
    def __init__(self, alias: str | None = None) -> None:
        super().__init__()
        self.op1 = OneShotMutableOP(scales(1.0, 2.0), alias=alias)
        self.op2 = OneShotMutableOP(scales(1.0, 2.0), alias=alias)
        self.op3 = OneShotMutableOP(scales(1.0, 2.0, 3.0))
        self.k = OneShotMutableValue([1, 3, 5])
        self.k2 = self.k * 2  # a registered derived mutable adds no group


def prepared(model: nn.Module, **kwargs) -> NasMutator:
    mutator = NasMutator(**kwargs)
    mutator.prepare_from_supernet(model)
    return mutator


def test_groups_share_one_counter_across_prefixes() -> None:
    groups = prepared(OneShotNet()).search_groups
    assert list(groups) == ["module_0", "module_1", "module_2", "value_3"]
    model = OneShotNet()
    assert [g[0] for g in prepared(model).search_groups.values()] == [
        model.op1,
        model.op2,
        model.op3,
        model.k,
    ]


def test_alias_and_custom_groups() -> None:
    model = OneShotNet(alias="shared")
    groups = prepared(model).search_groups
    assert groups["module_0"] == [model.op1, model.op2] and len(groups) == 3
    custom = prepared(OneShotNet(), custom_groups=[["op1", "op2"]]).search_groups
    assert list(custom) == ["module_0", "module_1", "value_2"]


@pytest.mark.parametrize(
    ("custom", "message"),
    [
        ([["op4"]], "'op4' is not legal; legal keys are"),
        ([["op1"], ["op1"]], "more than once: \\['op1'\\]"),
        ([["shared", "op1"]], "is an alias; list either it or its modules"),
        ([["op1", "op3"]], "differ in kind .* or choices"),
        ([["op3", "k"]], "differ in kind"),
    ],
)
def test_custom_group_validation(custom: list, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        prepared(OneShotNet(alias="shared"), custom_groups=custom)


def test_search_groups_and_arch_params_need_preparing() -> None:
    mutator = NasMutator()
    with pytest.raises(RuntimeError, match="prepare_from_supernet"):
        _ = mutator.search_groups
    with pytest.raises(RuntimeError, match="prepare_arch_params"):
        _ = mutator.arch_params


def test_sample_and_set_choices_on_a_one_shot_net() -> None:
    model = OneShotNet()
    mutator = prepared(model)
    mutator.prepare_arch_params()  # one-shot groups get no arch param
    assert len(mutator.arch_params) == 0
    choices = mutator.sample_choices()
    assert set(choices) == set(mutator.search_groups) and isinstance(choices["module_0"], str)
    mutator.set_choices(choices)
    assert mutator.current_choices == choices
    assert model.k2.current_choice == 2 * choices["value_3"]
    with pytest.raises(ValueError, match="needs ordered choices"):
        mutator.sample_choices("max")
    with pytest.raises(NotImplementedError, match="kind='mun'"):
        mutator.sample_choices("mun")
    with pytest.raises(KeyError, match="lack the groups \\['value_3'\\]"):
        mutator.set_choices({k: v for k, v in choices.items() if k != "value_3"})
    with pytest.raises(KeyError, match="unknown groups \\['extra'\\]"):
        mutator.set_choices({**choices, "extra": 1})


def test_max_min_on_value_groups() -> None:
    model = nn.Module()
    model.a, model.b = OneShotMutableValue([1, 3, 5]), OneShotMutableValue([2, 4])
    mutator = prepared(model)
    assert mutator.max_choices == {"value_0": 5, "value_1": 4}
    mutator.set_min_choices()
    assert (model.a.current_choice, model.b.current_choice) == (1, 2)
    mutator.set_max_choices()
    assert mutator.current_choices == {"value_0": 5, "value_1": 4}


class DartsNode(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        edges = {f"p{i}": DiffMutableOP(scales(1.0, 2.0, 3.0), alias=f"n_p{i}") for i in range(3)}
        self.route = DiffChoiceRoute(edges, with_arch_param=True, alias="n")

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.route(xs)


def test_arch_params_bind_and_receive_gradients(backend: str) -> None:
    node = DartsNode()
    mutator = prepared(node)
    mutator.prepare_arch_params()
    assert {k: tuple(v.shape) for k, v in mutator.arch_params.items()} == {
        "module_0": (3,),
        "module_1": (3,),
        "module_2": (3,),
        "module_3": (3,),
    }
    assert set(dict(mutator.named_parameters())) == {f"_arch_params.module_{i}" for i in range(4)}
    node([torch.randn(2) for _ in range(3)]).sum().backward()
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for p in mutator.parameters())
    choices = mutator.sample_choices()
    assert len(choices["module_0"]) == 2 and choices["module_1"] in ("s0", "s1", "s2")
    with pytest.warns(UserWarning, match="has an arch param"):
        assert mutator.max_choices == choices
