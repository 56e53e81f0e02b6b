"""ss-gen's search space as Optuna categories, NNI's tuner parameters and a fixed architecture."""

import pytest
import torch
from torch import nn

import nasops
from nasops.tune.errors import TuneInputError
from nasops.tune.space import MAX_SUBSETS, SearchSpace

# The reference space of NNI v1's classic_nas tests (§3.13), plus an any-subset InputChoice.
SPACE = {
    "first_conv": {"_type": "layer_choice", "_value": ["conv5x5", "conv3x3"]},
    "mid_conv": {"_type": "layer_choice", "_value": ["0", "1"]},
    "skip": {"_type": "input_choice", "_value": {"candidates": ["", ""], "n_chosen": 1}},
    "any": {"_type": "input_choice", "_value": {"candidates": ["a", "b"], "n_chosen": None}},
}


class FixedTrial:
    """A stand-in for an Optuna trial that answers every categorical with one category."""

    def __init__(self, answers: dict) -> None:
        self.answers, self.asked = answers, {}

    def suggest_categorical(self, name: str, choices: list):
        self.asked[name] = choices
        return self.answers[name]


def test_each_choice_is_one_categorical_of_candidate_indices_or_subsets():
    trial = FixedTrial({"first_conv": 1, "mid_conv": 0, "skip": "1", "any": "0,1"})
    SearchSpace.parse(SPACE).suggest(trial)
    assert trial.asked == {
        "any": ["", "0", "1", "0,1"],
        "first_conv": [0, 1],
        "mid_conv": [0, 1],
        "skip": ["0", "1"],
    }


def test_suggested_parameters_are_in_nni_tuner_format():
    trial = FixedTrial({"first_conv": 1, "mid_conv": 0, "skip": "1", "any": ""})
    assert SearchSpace.parse(SPACE).suggest(trial) == {
        "first_conv": {"_value": "conv3x3", "_idx": 1},
        "mid_conv": {"_value": "0", "_idx": 0},
        "skip": {"_value": [""], "_idx": [1]},
        "any": {"_value": [], "_idx": []},
    }


def test_fixed_architecture_applies_to_the_model_with_the_chosen_candidates():
    space = SearchSpace.parse(
        {
            "conv": {"_type": "layer_choice", "_value": ["0", "1"]},
            "skip": {"_type": "input_choice", "_value": {"candidates": ["x"], "n_chosen": None}},
        }
    )
    arch = space.fixed_architecture({"conv": 1, "skip": "0"})
    assert arch == {"conv": [False, True], "skip": [True]}

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nasops.LayerChoice([nn.Identity(), nn.Linear(2, 2)], key="conv")
            self.skip = nasops.InputChoice(n_candidates=1, n_chosen=None, key="skip")

        def forward(self, x):
            return self.conv(x) + self.skip([x])

    model = Net()
    nasops.apply_fixed_architecture(model, arch)
    assert isinstance(model.conv, nn.Linear)
    assert model(torch.ones(1, 2)).shape == (1, 2)


def test_describe_names_the_chosen_candidates_and_leaves_unsampled_keys_empty():
    space = SearchSpace.parse(SPACE)
    assert space.describe({"first_conv": 0, "any": "0,1"}) == {
        "any": "a+b",
        "first_conv": "conv5x5",
        "mid_conv": "",
        "skip": "",
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({"k": {"_type": "choice", "_value": [1, 2]}}, "'k'.*not a classic-mode choice"),
        ({"k": {"_type": "layer_choice", "_value": []}}, "not a classic-mode choice"),
        (
            {"k": {"_type": "input_choice", "_value": {"candidates": ["a"], "n_chosen": 2}}},
            "n_chosen=2",
        ),
        ({}, "non-empty JSON object"),
    ],
)
def test_bad_search_space_names_the_key_and_the_accepted_forms(spec, message):
    with pytest.raises(TuneInputError, match=message):
        SearchSpace.parse(spec)


def test_input_choice_with_too_many_subsets_is_refused():
    candidates = [str(i) for i in range(13)]  # 2^13 subsets
    spec = {"k": {"_type": "input_choice", "_value": {"candidates": candidates, "n_chosen": None}}}
    with pytest.raises(TuneInputError, match=f"at most {MAX_SUBSETS}"):
        SearchSpace.parse(spec)
