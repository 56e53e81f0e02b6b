"""Seed 004's customization story: a user's mutable written to mmrazor's guide just works."""

import importlib.util
import random
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor, nn

from nasops.compat import mmrazor as compat
from nasops.razor import DumpChosen, NasMutator, export_fix_subnet, load_fix_subnet
from nasops.razor.base import CHOICE_TYPE, CHOSEN_TYPE
from nasops.razor.one_shot import OneShotMutableModule

HAS_MMENGINE = importlib.util.find_spec("mmengine") is not None


class GuideOP(OneShotMutableModule[str, str]):
    """Exactly the methods the guide lists (its ``OneShotMutableOP``), nothing more."""

    def __init__(self, candidates: nn.ModuleDict, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._candidates = candidates

    def fix_chosen(self, chosen: str) -> None:
        if self.is_fixed:
            raise AttributeError("already fixed")
        for c in self.choices:
            if c != chosen:
                self._candidates.pop(c)
        self._chosen = chosen
        self.is_fixed = True

    def dump_chosen(self) -> str:
        assert self.current_choice is not None
        return self.current_choice

    @property
    def choices(self) -> list[str]:
        return list(self._candidates.keys())

    @property
    def num_choices(self) -> int:
        return len(self.choices)

    def sample_choice(self) -> str:
        return np.random.choice(self.choices, 1)[0]

    def forward_fixed(self, x: Any) -> Tensor:
        return self._candidates[self._chosen](x)

    def forward_choice(self, x: Any, choice: str) -> Tensor:
        assert isinstance(choice, str) and choice in self.choices
        return self._candidates[choice](x)

    def forward_all(self, x: Any) -> Tensor:
        return sum(op(x) for op in self._candidates.values())


class Net(nn.Module):
    def __init__(self, op_cls: type = GuideOP) -> None:
        super().__init__()
        self.op = op_cls(nn.ModuleDict({"twice": Mul(2.0), "thrice": Mul(3.0)}))

    def forward(self, x: Tensor) -> Tensor:
        return self.op(x)


class Mul(nn.Module):
    def __init__(self, k: float) -> None:
        super().__init__()
        self.k = k

    def forward(self, x: Tensor) -> Tensor:
        return self.k * x


def test_a_guide_mutable_instantiates_and_follows_its_choice() -> None:
    op = GuideOP(nn.ModuleDict({"twice": Mul(2.0), "thrice": Mul(3.0)}))
    x = torch.ones(2)
    torch.testing.assert_close(op(x), 5.0 * x)  # no choice: forward_all
    op.current_choice = "thrice"
    torch.testing.assert_close(op(x), 3.0 * x)
    with pytest.raises(ValueError, match="'quad' is not a candidate"):
        op.current_choice = "quad"
    assert CHOICE_TYPE is not None and CHOSEN_TYPE is not None  # the guide's imports exist


def test_a_guide_mutable_runs_through_the_mutator_export_and_load() -> None:
    np.random.seed(0)
    random.seed(0)
    model = Net()
    mutator = NasMutator()
    mutator.prepare_from_supernet(model)
    assert list(mutator.search_groups) == ["module_0"]
    mutator.set_choices(mutator.sample_choices())
    chosen = model.op.current_choice
    subnet, _ = export_fix_subnet(model)
    assert subnet == {"op": DumpChosen(chosen=chosen)}
    retrain = Net()
    load_fix_subnet(retrain, subnet)
    assert retrain.op.is_fixed and retrain.op.choices == [chosen]
    k = {"twice": 2.0, "thrice": 3.0}[chosen]
    torch.testing.assert_close(retrain(torch.ones(1)), torch.tensor([k]))


@pytest.mark.skipif(not HAS_MMENGINE, reason="registering needs mmengine")
def test_a_guide_mutable_registers_and_builds_by_type() -> None:
    if compat.is_installed():
        compat.uninstall()
    compat.install()
    try:
        from mmrazor.models.mutables.mutable_module import OneShotMutableModule as Base
        from mmrazor.registry import MODELS

        assert Base is OneShotMutableModule

        @MODELS.register_module(force=True)
        class RegisteredGuideOP(GuideOP):
            pass

        MODELS.register_module(name="GuideMul", module=Mul, force=True)
        op = MODELS.build(
            {
                "type": "mmrazor.RegisteredGuideOP",
                "candidates": nn.ModuleDict(
                    {"twice": MODELS.build({"type": "GuideMul", "k": 2.0})}
                ),
            }
        )
        model = nn.Sequential(op)
        mutator = MODELS.build({"type": "NasMutator"})
        mutator.prepare_from_supernet(model)
        mutator.set_choices({"module_0": "twice"})
        torch.testing.assert_close(model(torch.ones(1)), torch.tensor([2.0]))
        assert export_fix_subnet(model)[0] == {"0": DumpChosen("twice")}
    finally:
        compat.uninstall()
