"""Classic mode: ClassicMutator's search space, dump-and-exit, platforms and NNI's checks."""

import json
import logging
import re
import sys
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from nasops import trial
from nasops.algorithms.classic_nas import get_and_apply_next_architecture
from nasops.algorithms.classic_nas.mutator import NNI_GEN_SEARCH_SPACE, ClassicMutator
from nasops.algorithms.classic_nas.space import InvalidChoiceError
from nasops.algorithms.spos import SPOSEvolution
from nasops.compat import nni as compat
from nasops.fixed import apply_fixed_architecture
from nasops.mutables import InputChoice, LayerChoice, Mutable, MutableScope

# NNI's reference search-space file (test/ut/sdk/assets/classic_nas_search_space.json), which
# NNI's classic-mode MNIST model generates.
REFERENCE = {
    "first_conv": {"_type": "layer_choice", "_value": ["conv5x5", "conv3x3"]},
    "mid_conv": {"_type": "layer_choice", "_value": ["0", "1"]},
    "skip": {"_type": "input_choice", "_value": {"candidates": ["", ""], "n_chosen": 1}},
}
_ENV = (
    NNI_GEN_SEARCH_SPACE,
    trial.PARAMETERS_ENV,
    trial.RESULTS_ENV,
    "NNI_PLATFORM",
)


class MnistLike(nn.Module):
    """The shape of NNI's classic-mode MNIST model (same keys and names), tiny."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = LayerChoice(
            OrderedDict(
                [
                    ("conv5x5", nn.Conv2d(1, 4, 5, padding=2)),
                    ("conv3x3", nn.Conv2d(1, 4, 3, padding=1)),
                ]
            ),
            key="first_conv",
        )
        self.mid_conv = LayerChoice(
            [nn.Conv2d(4, 4, 3, padding=1), nn.Conv2d(4, 4, 5, padding=2)], key="mid_conv"
        )
        self.input_switch = InputChoice(n_candidates=2, n_chosen=1, key="skip")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(self.conv1(x))
        skip = self.input_switch([torch.zeros_like(x), x])
        x = F.relu(self.mid_conv(x)) + skip
        return self.fc(x.mean((2, 3)))


class Cell(MutableScope):
    """A scope holding a LayerChoice and an InputChoice that picks any of three inputs."""

    def __init__(self) -> None:
        super().__init__("cell")
        self.op = LayerChoice(OrderedDict([("id", nn.Identity()), ("neg", nn.Tanh())]), key="op")
        self.pick = InputChoice(choose_from=["op", "", ""], n_chosen=None, key="pick")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pick([self.op(x), 2 * x, 3 * x])


class Oddity(Mutable):
    """A mutable classic mode does not know."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


class WithOddity(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.odd = Oddity(key="odd")


@pytest.fixture(autouse=True)
def no_platform(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(trial, "_state", trial._TrialState())


def _with_parameters(monkeypatch, tmp_path, parameters) -> None:
    path = tmp_path / "params.json"
    path.write_text(json.dumps(parameters))
    monkeypatch.setenv(trial.PARAMETERS_ENV, str(path))


def _masks(mutator: ClassicMutator) -> dict:
    return {key: mask.tolist() for key, mask in mutator.sample_final().items()}


# ----------------------------------------------------------------------------- search space


def test_the_reference_search_space_from_the_mnist_model(caplog) -> None:
    with caplog.at_level(logging.WARNING):
        mutator = ClassicMutator(MnistLike())
    assert mutator._search_space == REFERENCE
    assert "This is in standalone mode, the chosen are the first one(s)." in caplog.messages


def test_dump_and_exit(tmp_path, monkeypatch) -> None:
    target = tmp_path / "space.json"
    monkeypatch.setenv(NNI_GEN_SEARCH_SPACE, str(target))
    with pytest.raises(SystemExit) as exit_info:
        get_and_apply_next_architecture(MnistLike())
    assert exit_info.value.code == 0
    assert target.read_text() == json.dumps(REFERENCE, sort_keys=True, indent=2)


def test_scopes_are_skipped_and_n_chosen_none_is_null(caplog) -> None:
    with caplog.at_level(logging.INFO, logger="nasops.algorithms.classic_nas.mutator"):
        mutator = ClassicMutator(nn.Sequential(Cell()))
    assert "Mutable scope 'cell' is skipped during generating search space." in caplog.messages
    assert json.loads(json.dumps(mutator._search_space))["pick"] == {
        "_type": "input_choice",
        "_value": {"candidates": ["op", "", ""], "n_chosen": None},
    }


def test_unsupported_mutable() -> None:
    with pytest.raises(TypeError, match=re.escape("Unsupported mutable type: '<class '")):
        ClassicMutator(WithOddity())


# --------------------------------------------------------------------------------- platforms


def test_standalone_chooses_the_first_ones() -> None:
    model = nn.Sequential(Cell())
    assert get_and_apply_next_architecture(model) is None
    x = torch.randn(2, 3)
    assert torch.allclose(model(x), x + 2 * x + 3 * x)  # "id" and every input (n_chosen None)


def test_standalone_first_n_chosen(caplog) -> None:
    mutator = ClassicMutator(MnistLike())
    assert mutator._chosen_arch == {
        "first_conv": {"_value": "conv5x5", "_idx": 0},
        "mid_conv": {"_value": "0", "_idx": 0},
        "skip": {"_value": [""], "_idx": [0]},
    }
    assert _masks(mutator) == {
        "first_conv": [True, False],
        "mid_conv": [True, False],
        "skip": [True, False],
    }


def test_unittest_platform_falls_back_to_standalone(monkeypatch, caplog) -> None:
    monkeypatch.setenv("NNI_PLATFORM", "unittest")
    with caplog.at_level(logging.WARNING):
        mutator = ClassicMutator(MnistLike())
    assert caplog.messages == [
        "`NNI_PLATFORM` is set but `param` is None. Falling back to standalone mode."
    ]
    assert mutator._chosen_arch["first_conv"] == {"_value": "conv5x5", "_idx": 0}


def test_a_platform_without_parameters(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(trial.RESULTS_ENV, str(tmp_path / "results.jsonl"))
    message = "Chosen architecture is None. This may be a platform error."
    with pytest.raises(RuntimeError, match=re.escape(message)):
        ClassicMutator(MnistLike())


def test_tuner_parameters_become_masks(tmp_path, monkeypatch) -> None:
    parameters = {
        "op": {"_value": "neg", "_idx": 1},
        "pick": {"_value": ["", "op"], "_idx": [2, 0]},
    }
    _with_parameters(monkeypatch, tmp_path, parameters)
    model = nn.Sequential(Cell())
    mutator = ClassicMutator(model)
    assert _masks(mutator) == {"op": [False, True], "pick": [True, False, True]}
    x = torch.randn(2, 3)
    assert torch.allclose(model(x), torch.tanh(x) + 3 * x)
    assert mutator.export() == {"op": "neg", "pick": [0, 2]}


def test_parameters_under_nnis_local_protocol(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("NNI_PLATFORM", "local")
    monkeypatch.setenv("NNI_SYS_DIR", str(tmp_path))
    record = {
        "parameter_id": 0,
        "parameters": {"op": {"_value": "id", "_idx": 0}, "pick": {"_value": [], "_idx": []}},
    }
    (tmp_path / "parameter.cfg").write_text(json.dumps(record))
    mutator = ClassicMutator(nn.Sequential(Cell()))
    assert _masks(mutator) == {"op": [True, False], "pick": [False, False, False]}


def test_spos_evolution_parameters_apply_and_export_round_trips(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # the tuner writes its round to ./checkpoints
    tuner = SPOSEvolution(num_select=1, num_population=2)
    tuner.update_search_space({k: v for k, v in REFERENCE.items() if v["_type"] == "layer_choice"})
    parameters = dict(tuner.generate_parameters(0))
    parameters["skip"] = {"_value": [""], "_idx": [1]}
    _with_parameters(monkeypatch, tmp_path, parameters)
    arc = ClassicMutator(MnistLike()).export()
    assert arc == {
        "first_conv": parameters["first_conv"]["_value"],
        "mid_conv": parameters["mid_conv"]["_idx"],
        "skip": 1,
    }
    retrain = MnistLike()
    apply_fixed_architecture(retrain, arc, verbose=False)
    assert retrain(torch.randn(2, 1, 6, 6)).shape == (2, 3)


# -------------------------------------------------------------------------------- validation


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            {"extra": {"_value": "x", "_idx": 0}},
            "Unmatched keys, expected keys 'dict_keys(['op', 'pick'])' from search space, "
            "found 'dict_keys(['op', 'pick', 'extra'])'.",
        ),
        ({"op": {"_value": "id"}}, "'{'_value': 'id'}' is not a valid choice."),
        ({"op": ["id"]}, "'['id']' is not a valid choice."),
        (
            {"op": {"_value": "neg", "_idx": 0}},
            "Index '0' in search space '['id', 'neg']' is not 'neg'",
        ),
        (
            {"op": {"_value": "id", "_idx": 5}},
            "Index '5' in search space '['id', 'neg']' is not 'id'",
        ),
        (
            {"op": {"_value": "id", "_idx": True}},
            "Index 'True' in search space '['id', 'neg']' is not 'id'",
        ),
        (
            {"pick": {"_value": ["", "op"], "_idx": [1, 1]}},
            "Index '1' in search space '['op', '', '']' is not 'op'",
        ),
        (
            {"pick": {"_value": ["", ""], "_idx": [1, 1]}},
            "'1' is selected twice in '[1, 1]', which is not allowed.",
        ),
        (
            {"pick": {"_value": [""], "_idx": [1, 2]}},
            "'{'_value': [''], '_idx': [1, 2]}' is not a valid choice.",
        ),
    ],
)
def test_invalid_parameters_raise_nnis_messages(tmp_path, monkeypatch, change, message) -> None:
    parameters = {"op": {"_value": "id", "_idx": 0}, "pick": {"_value": [""], "_idx": [1]}}
    _with_parameters(monkeypatch, tmp_path, {**parameters, **change})
    with pytest.raises(InvalidChoiceError) as error:
        ClassicMutator(nn.Sequential(Cell()))
    assert str(error.value) == message
    assert isinstance(error.value, ValueError) and isinstance(error.value, AssertionError)


# ---------------------------------------------------------------------------------- compat


def test_nni_paths_resolve_to_classic_nas() -> None:
    if "nni" in sys.modules and not compat.is_installed():
        pytest.skip("a real nni is imported in this process")
    compat.install()
    try:
        from nni.algorithms.nas.pytorch.classic_nas import (
            get_and_apply_next_architecture as v2_entry,
        )
        from nni.nas.pytorch.classic_nas.mutator import ClassicMutator as v1_mutator
    finally:
        compat.uninstall()
    assert v2_entry is get_and_apply_next_architecture
    assert v1_mutator is ClassicMutator
