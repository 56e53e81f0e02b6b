"""Subnet export and load: DumpChosen dicts, portable YAML, prefixes, derived mutables."""

import pytest
import torch
import yaml
from test_razor_mutator import DartsNode, OneShotNet, prepared
from torch import nn

from nasops.razor import (
    DumpChosen,
    OneShotMutableValue,
    convert_fix_subnet,
    export_fix_subnet,
    load_fix_subnet,
    save_fix_subnet,
)


def test_export_yaml_load_fix_round_trip(tmp_path) -> None:
    model = OneShotNet()
    mutator = prepared(model)
    mutator.set_choices(mutator.sample_choices())
    subnet, sliced = export_fix_subnet(model)
    assert sliced is None
    assert set(subnet) == {"op1", "op2", "op3", "k"}
    assert subnet["k"] == DumpChosen(chosen=model.k.current_choice, meta={"all_choices": [1, 3, 5]})
    path = tmp_path / "subnet.yaml"
    save_fix_subnet(subnet, path)
    text = path.read_text()
    assert "!!" not in text and "python" not in text
    assert yaml.safe_load(text) == {k: {"chosen": v.chosen} for k, v in subnet.items()}

    fresh = OneShotNet()
    load_fix_subnet(fresh, path)
    assert all(m.is_fixed for m in (fresh.op1, fresh.op2, fresh.op3, fresh.k))
    again, _ = export_fix_subnet(fresh)
    assert {k: v.chosen for k, v in again.items()} == {k: v.chosen for k, v in subnet.items()}
    x = torch.randn(3)
    torch.testing.assert_close(fresh.op3(x), model.op3(x))


def test_slice_weight_returns_a_fixed_copy() -> None:
    model = OneShotNet()
    model.op1.current_choice, model.op2.current_choice, model.op3.current_choice = "s0", "s1", "s2"
    _, sliced = export_fix_subnet(model, slice_weight=True)
    assert sliced.op3.choices == ["s2"] and model.op3.choices == ["s0", "s1", "s2"]


def test_load_rejects_bad_input_and_missing_keys() -> None:
    with pytest.raises(TypeError, match="subnet_dict must be a dict"):
        load_fix_subnet(OneShotNet(), 10)
    with pytest.raises(RuntimeError, match="'op3' is not in subnet_dict"):
        load_fix_subnet(OneShotNet(), {"op1": "s0", "op2": "s0", "k": 1})
    with pytest.raises(TypeError, match="must hold 'chosen'"):
        load_fix_subnet(OneShotNet(), {"op1": {"choice": "s0"}})
    with pytest.raises(ValueError, match="not a candidate"):
        load_fix_subnet(OneShotNet(), {"op1": "zz", "op2": "s0", "op3": "s0", "k": 1})


def test_prefix_is_a_real_prefix_and_bare_values_load() -> None:
    wrapper = nn.Module()
    wrapper.backbone = nn.Module()
    wrapper.backbone.bop = OneShotNet().op3  # str.lstrip("backbone.") would leave "p"
    load_fix_subnet(wrapper, {"bop": "s1"}, prefix="backbone.")
    assert wrapper.backbone.bop.choices == ["s1"]
    other = nn.Module()
    other.bop = OneShotNet().op3
    load_fix_subnet(other, {"arch.bop": {"chosen": "s2"}}, extra_prefix="arch.")
    assert other.bop.choices == ["s2"]
    with pytest.raises(RuntimeError, match="not both"):
        load_fix_subnet(other, {}, prefix="a", extra_prefix="b")


def test_darts_export_keeps_route_lists_and_load_fixes_route_first(tmp_path) -> None:
    node = DartsNode()
    mutator = prepared(node)
    mutator.prepare_arch_params()
    with torch.no_grad():
        mutator.arch_params["module_0"].copy_(torch.tensor([0.0, 2.0, 1.0]))
    mutator.set_choices(mutator.sample_choices())
    subnet, _ = export_fix_subnet(node)
    assert subnet["n"].chosen == ["p1", "p2"]
    path = tmp_path / "darts.yaml"
    save_fix_subnet(subnet, path)
    fresh = DartsNode()
    del_key = yaml.safe_load(path.read_text())
    del del_key["n_p0"]  # the edge dropped by the route needs no entry
    load_fix_subnet(fresh, del_key)
    assert fresh.route.choices == ["p1", "p2"]
    xs = [torch.ones(1), torch.full((1,), 2.0), torch.full((1,), 3.0)]
    chosen = {k: v.chosen for k, v in subnet.items()}
    factor = {"s0": 1.0, "s1": 2.0, "s2": 3.0}
    torch.testing.assert_close(
        fresh(xs), torch.tensor([factor[chosen["n_p1"]] * 2.0 + factor[chosen["n_p2"]] * 3.0])
    )


def test_derived_mutables_export_through_their_sources() -> None:
    model = nn.Module()
    model.src = OneShotMutableValue([2, 4])
    model.der = model.src * 2
    subnet, _ = export_fix_subnet(model)
    assert list(subnet) == ["src"]
    loose = nn.Module()
    loose.der = OneShotMutableValue([2, 4]) * 2  # source not registered: exported as 'der'
    subnet, _ = export_fix_subnet(loose)
    assert subnet == {"der": DumpChosen(chosen=4, meta={"all_choices": [2, 4]})}
    load_fix_subnet(loose, {"der": {"chosen": 2}})
    assert loose.der.current_choice == 4 and loose.der.is_fixed


def test_convert_writes_plain_python_values() -> None:
    import numpy as np

    converted = convert_fix_subnet({"a": DumpChosen(np.str_("x")), "b": DumpChosen(np.int64(3))})
    assert converted == {"a": {"chosen": "x"}, "b": {"chosen": 3}}
    assert type(converted["a"]["chosen"]) is str and type(converted["b"]["chosen"]) is int
    assert "!!" not in yaml.safe_dump(converted)
    with pytest.raises(TypeError, match="must be a DumpChosen"):
        convert_fix_subnet({"a": 3})
