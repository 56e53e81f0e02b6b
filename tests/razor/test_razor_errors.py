"""Errors keep mmrazor's exception types: each is the clear type and mmrazor's, with a message."""

from collections.abc import Callable

import pytest
import torch
from razor_helpers import scales
from torch import nn

from nasops.razor import (
    DiffChoiceRoute,
    MutableValue,
    NasMutator,
    OneShotMutableChannel,
    OneShotMutableOP,
    SquentialMutableChannel,
    load_fix_subnet,
)
from nasops.razor.errors import (
    AttributeAssertionError,
    RuntimeAssertionError,
    RuntimeAttributeError,
    TypeAssertionError,
    ValueAssertionError,
    ValueAttributeError,
)


def _set(obj: object, attr: str, value: object) -> Callable[[], None]:
    return lambda: setattr(obj, attr, value)


def _fixed_op() -> OneShotMutableOP:
    op = OneShotMutableOP(scales(1.0, 2.0))
    op.fix_chosen("s0")
    return op


class Aliased(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.op = OneShotMutableOP(scales(1.0, 2.0), alias="shared")


class TwoOps(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.op1 = OneShotMutableOP(scales(1.0, 2.0))
        self.op2 = OneShotMutableOP(scales(1.0, 2.0))


def _prepared(model: nn.Module) -> NasMutator:
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    return mutator


def _route() -> DiffChoiceRoute:
    return DiffChoiceRoute(scales(1.0, 2.0, 3.0))


# (what to call, the clear type, mmrazor's type, a piece of the message)
CASES = {
    "empty candidates": (
        lambda: OneShotMutableOP({}),
        ValueError,
        AssertionError,
        "candidates is empty",
    ),
    "forward_choice with None": (
        lambda: OneShotMutableOP(scales(1.0)).forward_choice(torch.ones(1), None),
        ValueError,
        AssertionError,
        "choice None is not a candidate; accepted names are ['s0']",
    ),
    "non-bool is_fixed": (
        _set(OneShotMutableOP(scales(1.0)), "is_fixed", 1),
        TypeError,
        AssertionError,
        "is_fixed must be a bool (True or False), got 1",
    ),
    "dumping an unset choice": (
        lambda: OneShotMutableOP(scales(1.0)).dump_chosen(),
        RuntimeError,
        AssertionError,
        "has no current_choice to dump",
    ),
    "too few route inputs": (
        lambda: _route()([torch.ones(1)] * 2),
        ValueError,
        AssertionError,
        "one input per edge (3",
    ),
    "MutableValue.fix_chosen outside the choices": (
        lambda: MutableValue([2, 3, 4]).fix_chosen(5),
        ValueError,
        AssertionError,
        "choice 5 is not in value_list; accepted values are [2, 3, 4]",
    ),
    "bad channel mode": (
        lambda: SquentialMutableChannel(4, choice_mode="percent"),
        ValueError,
        AssertionError,
        "choice_mode must be 'number' or 'ratio', got 'percent'",
    ),
    "channel choice outside the candidates": (
        _set(OneShotMutableChannel(8, candidate_choices=[4, 8]), "current_choice", 6),
        ValueError,
        AssertionError,
        "choice 6 is not a candidate; accepted are [4, 8]",
    ),
    "unknown custom group": (
        lambda: NasMutator(custom_groups=[["op9"]]).prepare_from_supernet(TwoOps()),
        ValueError,
        AssertionError,
        "'op9' is not legal; legal keys are ['op1', 'op2']",
    ),
    "missing alias in load_fix_subnet": (
        lambda: load_fix_subnet(Aliased(), {"op": {"chosen": "s0"}}),
        RuntimeError,
        AssertionError,
        "alias 'shared' is not in subnet_dict",
    ),
    "second fix_chosen": (
        lambda: _fixed_op().fix_chosen("s0"),
        AttributeError,
        AssertionError,
        "already fixed; fix_chosen cannot be called again",
    ),
    "arch_params before prepare_arch_params": (
        lambda: NasMutator().arch_params,
        RuntimeError,
        AttributeError,
        "call prepare_arch_params first",
    ),
    "max choices of a module group": (
        lambda: _prepared(TwoOps()).max_choices,
        ValueError,
        AttributeError,
        "kind='max' needs ordered choices; group 'module_0'",
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_error_is_the_clear_type_and_mmrazors(case: str) -> None:
    call, clear, mmrazor_type, message = CASES[case]
    with pytest.raises(clear) as info:
        call()
    assert isinstance(info.value, mmrazor_type)
    assert message in str(info.value)


@pytest.mark.parametrize(
    ("cls", "bases"),
    [
        (ValueAssertionError, (ValueError, AssertionError)),
        (TypeAssertionError, (TypeError, AssertionError)),
        (RuntimeAssertionError, (RuntimeError, AssertionError)),
        (RuntimeAttributeError, (RuntimeError, AttributeError)),
        (ValueAttributeError, (ValueError, AttributeError)),
        (AttributeAssertionError, (AttributeError, AssertionError)),
    ],
)
def test_each_error_class_is_caught_by_both_of_its_types(cls: type, bases: tuple) -> None:
    for base in bases:
        with pytest.raises(base, match="why"):
            raise cls("why")
