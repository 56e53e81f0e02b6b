"""OneShotMutableOP / OneShotProbMutableOP: single-path forward, fixing, sampling, candidates."""

import collections
import sys

import pytest
import torch
from razor_helpers import HostReads, Scale, scales
from torch import nn

from nasops.razor import DumpChosen, OneShotMutableOP, OneShotProbMutableOP


def test_forward_all_is_the_unweighted_sum_of_every_candidate(backend: str) -> None:
    op = OneShotMutableOP(scales(1.0, 2.0, 4.0))
    x = torch.randn(3, 5)
    torch.testing.assert_close(op(x), 7.0 * x)
    torch.testing.assert_close(op.forward_all(x), 7.0 * x)


def test_a_set_choice_runs_that_candidate_only(monkeypatch) -> None:
    op = OneShotMutableOP(scales(1.0, 2.0, 4.0))
    reads = HostReads(monkeypatch)
    op.current_choice = "s2"
    x = torch.randn(3, 5)
    torch.testing.assert_close(op(x), 4.0 * x)
    assert [c.calls for c in op._candidates.values()] == [0, 0, 1]
    assert reads.count == 0


def test_properties_and_fix_drop_the_unchosen_candidates() -> None:
    op = OneShotMutableOP(scales(1.0, 2.0, 4.0))
    assert (op.choices, op.num_choices, op.is_fixed) == (["s0", "s1", "s2"], 3, False)
    assert set(op.state_dict()) == {f"_candidates.s{i}.factor" for i in range(3)}
    op.fix_chosen("s1")
    assert (op.choices, op.num_choices, op.is_fixed) == (["s1"], 1, True)
    assert list(op.state_dict()) == ["_candidates.s1.factor"]
    x = torch.randn(2)
    torch.testing.assert_close(op(x), 2.0 * x)
    with pytest.raises(AttributeError, match="already fixed"):
        op.fix_chosen("s1")
    with pytest.raises(AttributeError, match="already fixed"):
        op.is_fixed = True


def test_fix_sets_current_choice_so_dump_after_fix_works() -> None:
    op = OneShotMutableOP(scales(1.0, 2.0))
    op.fix_chosen("s1")
    assert op.current_choice == "s1"
    assert op.dump_chosen() == DumpChosen(chosen="s1", meta={"all_choices": ["s1"]})
    assert op.export_chosen() == "s1"


def test_dump_without_a_choice_raises() -> None:
    with pytest.raises(RuntimeError, match="no current_choice"):
        OneShotMutableOP(scales(1.0, 2.0)).dump_chosen()


def test_unknown_choice_is_rejected_and_leaves_the_candidates() -> None:
    op = OneShotMutableOP(scales(1.0, 2.0))
    with pytest.raises(ValueError, match="'nope' is not a candidate"):
        op.fix_chosen("nope")
    with pytest.raises(ValueError, match="accepted names are"):
        op.current_choice = "nope"
    assert op.choices == ["s0", "s1"] and not op.is_fixed


def test_sample_choice_returns_plain_str_covering_every_candidate() -> None:
    op = OneShotMutableOP(scales(1.0, 2.0, 3.0))
    samples = [op.sample_choice() for _ in range(200)]
    assert {type(s) for s in samples} == {str}
    assert set(samples) == {"s0", "s1", "s2"}


def test_candidates_from_module_dict_config_dicts_and_callables() -> None:
    cfgs = {"small": {"type": nn.Linear, "out_features": 3}, "big": {"type": nn.Linear}}
    op = OneShotMutableOP(cfgs, module_kwargs={"in_features": 4, "out_features": 3})
    assert "in_features" not in cfgs["small"]  # the caller's dicts are not modified
    assert op._candidates["small"].in_features == 4
    op2 = OneShotMutableOP(nn.ModuleDict({"a": nn.Identity()}))
    assert op2.choices == ["a"]
    op3 = OneShotMutableOP({"f": {"type": lambda k: Scale(k), "k": 3.0}})
    torch.testing.assert_close(op3(torch.ones(2)), torch.full((2,), 3.0))


def test_bad_candidates_raise_naming_the_problem(monkeypatch) -> None:
    with pytest.raises(TypeError, match="candidates must be"):
        OneShotMutableOP([nn.Identity()])
    with pytest.raises(ValueError, match="empty"):
        OneShotMutableOP({})
    with pytest.raises(ValueError, match="no 'type'"):
        OneShotMutableOP({"a": {"in_features": 2}})
    # Without mmengine a registry name cannot be built.
    monkeypatch.setitem(sys.modules, "mmengine", None)
    monkeypatch.setitem(sys.modules, "mmengine.registry", None)
    monkeypatch.delitem(sys.modules, "nasops.razor.registry", raising=False)
    with pytest.raises(ImportError, match="needs mmengine"):
        OneShotMutableOP({"a": {"type": "Conv2d"}})


def test_prob_op_checks_probabilities_and_samples_by_them() -> None:
    with pytest.raises(ValueError, match="sum to 1"):
        OneShotProbMutableOP(scales(1.0, 2.0), choice_probs=[0.1, 0.1])
    with pytest.raises(ValueError, match="sum to 1"):
        OneShotProbMutableOP(scales(1.0, 2.0), choice_probs=[0.9, 0.9])
    with pytest.raises(ValueError, match="one probability per candidate"):
        OneShotProbMutableOP(scales(1.0, 2.0), choice_probs=[1.0])
    op = OneShotProbMutableOP(scales(1.0, 2.0, 3.0), choice_probs=[0.0, 0.25, 0.75])
    assert op.choice_probs == [0.0, 0.25, 0.75]  # a list in candidate order, as mmrazor's
    counts = collections.Counter(op.sample_choice() for _ in range(2000))
    assert counts["s0"] == 0 and 1200 < counts["s2"] < 1800
    op.fix_chosen("s1")
    assert op.sample_choice() == "s1"
