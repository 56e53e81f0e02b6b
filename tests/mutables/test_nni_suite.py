"""NNI v1's own ``test_nas.py``, ported: the four search spaces through random search."""

from collections import OrderedDict

import pytest
import torch
from spaces import build_spaces, random_pipeline
from torch import nn

from nasops import fixed, mutables, utils
from nasops.algorithms.random import RandomMutator

SPACES = build_spaces(mutables)


@pytest.mark.parametrize("space", ["naive", "mutable_scope", "layer_choice_only"])
def test_random_search_export_and_retrain(space: str, backend: str) -> None:
    torch.manual_seed(0)
    arc = random_pipeline(SPACES[space], RandomMutator, utils, fixed)
    utils._reset_global_mutable_counting()
    choices = (mutables.LayerChoice, mutables.InputChoice)
    keys = [m.key for m in RandomMutator(SPACES[space]()).mutables if isinstance(m, choices)]
    assert list(arc) == keys


def test_fixed_model_has_no_layer_choice_left() -> None:
    utils._reset_global_mutable_counting()
    model = SPACES["layer_choice_only"]()
    fixed.apply_fixed_architecture(model, {"LayerChoice1": 1, "LayerChoice2": 0}, verbose=False)
    assert isinstance(model.conv1, nn.Conv2d) and model.conv1.kernel_size == (5, 5)
    # conv2 returns its mask, so it stays a LayerChoice with the unselected candidate pruned.
    assert isinstance(model.conv2, mutables.LayerChoice) and list(model.conv2)[1] is None


def test_parsing_a_model_twice_raises() -> None:
    model = SPACES["naive"]()
    RandomMutator(model)
    with pytest.raises(RuntimeError, match="`set_mutator` is called more than once"):
        RandomMutator(model)


def test_nested_space_raises() -> None:
    with pytest.raises(
        RuntimeError, match=r"Cannot have nested search space. Error at InputChoice"
    ):
        RandomMutator(SPACES["nested"]())


def _three_convs(named: bool) -> mutables.LayerChoice:
    convs = [nn.Conv2d(3, c, 3) for c in (1, 2, 3)]
    if named:
        return mutables.LayerChoice(
            OrderedDict(zip(["conv1", "conv2", "conv3"], convs, strict=True))
        )
    return mutables.LayerChoice(convs)


@pytest.mark.parametrize("named", [False, True])
def test_layer_choice_modify(named: bool) -> None:
    lc = _three_convs(named)
    with pytest.warns(DeprecationWarning, match="layer_choice.choices is deprecated"):
        assert len(lc.choices) == 3
    lc[1] = nn.Conv2d(3, 4, 3)
    assert lc[1].out_channels == 4
    assert len(lc[0:2]) == 2 and isinstance(lc[0:2], list)
    if named:
        lc["conv3"] = nn.Conv2d(3, 7, 3)
        assert lc[-1].out_channels == 7


@pytest.mark.parametrize("named", [False, True])
def test_layer_choice_delete(named: bool) -> None:
    lc = _three_convs(named)
    del lc[1]
    assert len(lc) == 2 and len(list(lc)) == 2
    assert lc.names == (["conv1", "conv3"] if named else ["0", "2"])
    assert "conv2" not in lc._modules and "1" not in lc._modules
    if named:
        del lc["conv1"]
        assert len(lc) == 1 and lc.names == ["conv3"]
