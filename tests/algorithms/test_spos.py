"""SPOS: the flops-constrained random mutator, the supernet trainer on ready loaders (CPU too),
and the evolution tuner's protocol, rounds and exported candidates."""

import importlib
import json
import logging
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sampling_spaces import BranchNet, CallCounter, accuracy, export_and_apply, images
from sampling_spaces import candidates as sampling_candidates
from torch import nn
from torch.utils.data import DataLoader

import nasops.algorithms.spos as spos
from nasops.algorithms.random import RandomMutator
from nasops.algorithms.ranking import validation_loss
from nasops.algorithms.spos import (
    SPOSEvolution,
    SPOSSearch,
    SPOSSupernetTrainer,
    SPOSSupernetTrainingMutator,
)
from nasops.algorithms.spos.evolution import NoMoreTrialError
from nasops.compat import nni as compat
from nasops.fixed import apply_fixed_architecture
from nasops.mutables import LayerChoice

WARNING = "Failed to sample a flops-valid candidate within {} tries."


def flops_of(candidate: dict) -> int:
    """10 × the "left" index + the "right" index of a BranchNet architecture."""
    return 10 * candidate["left"].tolist().index(True) + candidate["right"].tolist().index(True)


class FlopsProbe:
    """A flops function that records what it was asked."""

    def __init__(self, flops=flops_of) -> None:
        self.flops = flops
        self.seen: list[float] = []

    def __call__(self, candidate: dict) -> float:
        self.seen.append(self.flops(candidate))
        return self.seen[-1]


# ------------------------------------------------------------------------------------ mutator


def test_without_flops_func_it_samples_what_random_mutator_samples() -> None:
    random_mutator = RandomMutator(BranchNet())
    spos_mutator = SPOSSupernetTrainingMutator(BranchNet())
    torch.manual_seed(3)
    expected = [random_mutator.sample_search() for _ in range(5)]
    torch.manual_seed(3)
    for want in expected:
        got = spos_mutator.sample_search()
        assert {k: v.tolist() for k, v in got.items()} == {k: v.tolist() for k, v in want.items()}


def test_a_flops_constrained_sample_falls_in_the_bin_drawn_for_its_try() -> None:
    # Bins [0, 5] and [5, 10]: flops 0..2 fit the first, 10 the second; 11, 12 and 20..22 none.
    probe = FlopsProbe()
    mutator = SPOSSupernetTrainingMutator(
        BranchNet(), flops_func=probe, flops_lb=0, flops_ub=10, flops_bin_num=2
    )
    np.random.seed(7)
    torch.manual_seed(7)
    bins = np.random.RandomState(7)  # replays the global draws: one bin per try
    for _ in range(10):
        probe.seen.clear()
        sample = mutator.sample_search()
        drawn = [bins.randint(2) for _ in probe.seen]
        bounds = [(0, 5), (5, 10)]
        fits = [bounds[b][0] <= f <= bounds[b][1] for b, f in zip(drawn, probe.seen, strict=True)]
        assert fits == [False] * (len(fits) - 1) + [True]
        assert flops_of(sample) == probe.seen[-1] in (0, 1, 2, 10)


def test_seeded_flops_sampling_is_reproducible() -> None:
    def draw() -> list:
        np.random.seed(11)
        torch.manual_seed(11)
        mutator = SPOSSupernetTrainingMutator(
            BranchNet(), flops_func=flops_of, flops_lb=0, flops_ub=22, flops_bin_num=3
        )
        return [{k: v.tolist() for k, v in mutator.sample_search().items()} for _ in range(6)]

    assert draw() == draw()


def test_after_flops_sample_timeout_misses_it_warns_and_returns_a_random_sample(
    caplog: pytest.LogCaptureFixture,
) -> None:
    probe = FlopsProbe(lambda candidate: 1e9)
    mutator = SPOSSupernetTrainingMutator(
        BranchNet(), flops_func=probe, flops_lb=0, flops_ub=10, flops_sample_timeout=5
    )
    with caplog.at_level(logging.WARNING):
        sample = mutator.sample_search()
    assert len(probe.seen) == 5
    assert [r.getMessage() for r in caplog.records] == [WARNING.format(5)]
    assert [sample["left"].sum().item(), sample["right"].sum().item()] == [1, 1]
    assert sample["join"].tolist().count(True) == 1


def test_sample_final_is_a_new_sample() -> None:
    torch.manual_seed(0)
    mutator = SPOSSupernetTrainingMutator(BranchNet())
    finals = [{k: v.tolist() for k, v in mutator.sample_final().items()} for _ in range(5)]
    assert any(final != finals[0] for final in finals)


@pytest.mark.parametrize(
    ("kwargs", "named"),
    [
        ({"flops_ub": 10}, "flops_lb"),
        ({"flops_lb": 10, "flops_ub": 1}, "flops_lb <= flops_ub"),
        ({"flops_lb": 0, "flops_ub": 1, "flops_bin_num": 0}, "flops_bin_num"),
        ({"flops_lb": 0, "flops_ub": 1, "flops_sample_timeout": -1}, "flops_sample_timeout"),
    ],
)
def test_bad_flops_arguments_are_named(kwargs: dict, named: str) -> None:
    with pytest.raises(ValueError, match=named):
        SPOSSupernetTrainingMutator(BranchNet(), flops_func=flops_of, **kwargs)


# ------------------------------------------------------------------------------------ trainer


def _spos_trainer(model: nn.Module, train_loader, valid_loader, **kwargs) -> SPOSSupernetTrainer:
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    trainer = SPOSSupernetTrainer(
        model, nn.CrossEntropyLoss(), accuracy, optimizer, 1, train_loader, valid_loader, **kwargs
    )
    trainer.progress = False
    return trainer


def test_nni_pipeline_trains_exports_and_retrains_on_the_cpu(backend: str, tmp_path: Path) -> None:
    torch.manual_seed(0)
    np.random.seed(0)
    model = BranchNet()
    mutator = SPOSSupernetTrainingMutator(
        model, flops_func=flops_of, flops_lb=0, flops_ub=22, flops_bin_num=2
    )
    train = DataLoader(images(16), batch_size=4, shuffle=True)
    valid = DataLoader(images(8, seed=1), batch_size=4)
    trainer = _spos_trainer(model, train, valid, mutator=mutator, device="cpu")
    before = [p.detach().clone() for p in model.parameters()]
    trainer.train()
    assert trainer.device == torch.device("cpu") and trainer.grad_clip is None
    assert any(not torch.equal(b, p) for b, p in zip(before, model.parameters(), strict=True))
    assert [record["epoch"] for record in trainer.history] == [0]
    assert set(trainer.history[0]["train"]) == {"acc1", "loss"}
    exported = export_and_apply(trainer, BranchNet(), tmp_path)
    assert set(exported) == {"left", "right", "join"}


def test_each_batch_runs_one_new_path_in_training_and_in_validation() -> None:
    torch.manual_seed(0)
    model = BranchNet()
    batches = [tuple(images(4, seed=s).tensors) for s in range(3)]
    trainer = _spos_trainer(model, batches, batches[:2])
    counter = CallCounter(model)
    resets = []
    original_reset = trainer.mutator.reset

    def counting_reset() -> None:
        resets.append(1)
        original_reset()

    trainer.mutator.reset = counting_reset
    trainer.train()
    assert len(resets) == 3 + 2
    assert [sum(calls) for calls in counter.calls.values()] == [5, 5]
    counter.clear()
    trainer.mutator.reset()
    model(batches[0][0])
    assert [sorted(calls) for calls in counter.calls.values()] == [[0, 0, 1]] * 2


def test_the_default_mutator_is_an_unconstrained_spos_mutator() -> None:
    batches = [tuple(images(4).tensors)]
    trainer = _spos_trainer(BranchNet(), batches, batches)
    assert isinstance(trainer.mutator, SPOSSupernetTrainingMutator)
    assert trainer.mutator._flops_func is None
    assert trainer.train_loader is batches and trainer.valid_loader is batches


# ---------------------------------------------------------------------------------- evolution

SPACE = {
    "a": {"_type": "layer_choice", "_value": ["a0", "a1", "a2", "a3"]},
    "b": {"_type": "layer_choice", "_value": ["b0", "b1", "b2"]},
    "c": {"_type": "layer_choice", "_value": ["c0", "c1"]},
}


def reward(parameters: dict) -> float:
    return parameters["a"]["_idx"] + parameters["b"]["_idx"] / 10 + parameters["c"]["_idx"] / 100


def indices(parameters: dict) -> tuple:
    return tuple(parameters[key]["_idx"] for key in SPACE)


def run_dispatcher(tuner: SPOSEvolution, n_ids: int = 100) -> list[tuple[int, dict]]:
    """NNI's dispatcher: ids up front, each trial reports ``reward`` and ends, in order."""
    sent: list[tuple[int, dict]] = []
    tuner.update_search_space(SPACE)
    assert (
        tuner.generate_multiple_parameters(
            list(range(n_ids)), st_callback=lambda i, p: sent.append((i, p))
        )
        == []
    )
    done = 0
    while done < len(sent):
        parameter_id, parameters = sent[done]
        done += 1
        tuner.receive_trial_result(parameter_id, parameters, reward(parameters))
        tuner.trial_end(parameter_id, True)
    return sent


def small_tuner(**kwargs) -> SPOSEvolution:
    settings = {"max_epochs": 3, "num_select": 2, "num_population": 4, "m_prob": 0.5}
    return SPOSEvolution(**{**settings, "num_crossover": 1, "num_mutation": 1, **kwargs})


def test_rounds_send_what_nni_sends(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The sequence NNI 2.8's SPOSEvolution sends for this script (run against its wheel).
    monkeypatch.chdir(tmp_path)
    np.random.seed(0)
    sent = run_dispatcher(small_tuner())
    assert [parameter_id for parameter_id, _ in sent] == list(range(12))
    assert [indices(p) for _, p in sent] == [
        (0, 1, 0), (3, 1, 1), (1, 2, 0), (3, 2, 0),  # epoch 0: random
        (2, 1, 1), (3, 1, 0), (2, 0, 0), (0, 1, 1),  # mutant, child, random, random
        (3, 0, 0), (2, 1, 0), (3, 0, 1), (0, 0, 0),
    ]  # fmt: skip
    names = sorted(path.name for path in (tmp_path / "checkpoints").iterdir())
    assert names == [f"000_00{i}.json" for i in range(4)] + [
        f"00{epoch}_00{rank}.json" for epoch in (1, 2, 3) for rank in (0, 1)
    ]


def test_parameters_are_classic_mode_choices_and_no_architecture_repeats(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sent = run_dispatcher(small_tuner(max_epochs=4, num_population=6, num_select=3))
    for _, parameters in sent:
        assert list(parameters) == list(SPACE)
        for key, choice in parameters.items():
            index = choice["_idx"]
            assert choice == {"_value": SPACE[key]["_value"][index], "_idx": index}
    assert len({indices(p) for _, p in sent}) == len(sent) == 24


def test_each_round_exports_its_best_as_one_hot_lists_best_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sent = run_dispatcher(small_tuner(max_epochs=2, num_population=5, num_select=3))
    rounds = [sorted((p for _, p in sent[:5]), key=reward, reverse=True)[:3]]
    rounds.append(sorted((p for _, p in sent[5:]), key=reward, reverse=True)[:3])
    for epoch, best in enumerate(rounds, start=1):
        for rank, parameters in enumerate(best):
            text = (tmp_path / "checkpoints" / f"{epoch:03d}_{rank:03d}.json").read_text()
            one_hot = {k: [i == c["_idx"] for i in range(len(SPACE[k]["_value"]))]
                       for k, c in parameters.items()}  # fmt: skip
            assert text == json.dumps(one_hot)


def test_crossover_children_take_each_choice_from_a_selected_parent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    tuner = small_tuner(max_epochs=2, num_population=6, num_select=2, num_crossover=3)
    tuner.num_mutation = 0
    with caplog.at_level(logging.INFO, logger="nasops.algorithms"):
        sent = run_dispatcher(tuner)
    found = [m for m in caplog.messages if m.endswith("architectures with crossover.")]
    n_children = int(found[0].split()[1])
    assert n_children >= 1
    best = sorted((p for _, p in sent[:6]), key=reward, reverse=True)[:2]
    for child in (p for _, p in sent[6 : 6 + n_children]):
        assert all(child[key] in (best[0][key], best[1][key]) for key in SPACE)


def test_mutation_with_m_prob_zero_only_makes_duplicates_so_adds_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    with caplog.at_level(logging.INFO, logger="nasops.algorithms"):
        run_dispatcher(small_tuner(max_epochs=2, m_prob=0.0, num_mutation=3))
    assert "Found 0 architectures with mutation." in caplog.messages


def test_exported_candidates_apply_to_a_fresh_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tuner = small_tuner(max_epochs=1)
    tuner.update_search_space(ss_of(ChainNet()))
    for i in range(4):
        tuner.receive_trial_result(i, tuner.generate_parameters(i), float(i))
        tuner.trial_end(i, True)
    model = ChainNet()
    apply_fixed_architecture(model, str(tmp_path / "checkpoints" / "001_000.json"), verbose=False)
    assert model(images(2).tensors[0]).shape == (2, 3)


def test_in_process_generate_parameters_waits_for_the_round_then_ends(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tuner = small_tuner(max_epochs=1)
    tuner.update_search_space(SPACE)
    first = tuner.generate_multiple_parameters([0, 1, 2])
    assert len(first) == 3
    assert len(tuner.generate_multiple_parameters([3, 4])) == 1
    with pytest.raises(NoMoreTrialError, match="waiting for 4 trial"):
        tuner.generate_parameters(5)
    for parameter_id in range(4):
        tuner.receive_trial_result(parameter_id, None, {"default": parameter_id})
        tuner.trial_end(parameter_id, parameter_id != 2)
    assert tuner.epoch == 1
    with pytest.raises(NoMoreTrialError):
        tuner.generate_parameters(5)
    assert sorted(path.name for path in (tmp_path / "checkpoints").iterdir())[-2:] == [
        "001_000.json",
        "001_001.json",
    ]


def test_a_search_space_smaller_than_the_population_is_used_up_without_hanging(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.chdir(tmp_path)
    tuner = small_tuner(num_population=10)
    with caplog.at_level(logging.WARNING):
        tuner.update_search_space({"a": SPACE["a"], "c": SPACE["c"]})
    assert len(tuner.candidates) == 8
    assert "Epoch 0 has 8 of 10 architectures: 1000 random draws in a row" in caplog.text


class BoundedEvolution(SPOSEvolution):
    """NNI's example pattern: a subclass that rejects architectures through ``_is_legal``."""

    def _is_legal(self, candidate: dict) -> bool:
        return super()._is_legal(candidate) and candidate["a"]["_idx"] < 2


def test_a_subclass_is_legal_filters_every_generated_architecture(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tuner = BoundedEvolution(max_epochs=3, num_select=2, num_population=4, m_prob=0.5)
    sent = run_dispatcher(tuner)
    assert len(sent) > 4 and all(p["a"]["_idx"] < 2 for _, p in sent)


@pytest.mark.parametrize(
    ("entry", "error", "match"),
    [
        ({"_type": "input_choice", "_value": {"candidates": ["x"], "n_chosen": 1}},
         NotImplementedError, "'k' is an input choice"),
        ({"_type": "choice", "_value": [1, 2]}, ValueError, "'k' must be"),
        ({"_type": "layer_choice", "_value": []}, ValueError, "'k' must be"),
    ],
)  # fmt: skip
def test_unsupported_search_space_entries_are_named(entry: dict, error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        SPOSEvolution().update_search_space({"k": entry})


@pytest.mark.parametrize("value", [{"acc": 1.0}, "0.5", True])
def test_a_result_that_is_not_a_number_is_refused(
    value: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    tuner = small_tuner()
    tuner.update_search_space(SPACE)
    tuner.generate_parameters(0)
    with pytest.raises(ValueError, match="number"):
        tuner.receive_trial_result(0, None, value)


def test_population_smaller_than_selection_is_refused() -> None:
    with pytest.raises(ValueError, match="num_population=3 and num_select=4"):
        SPOSEvolution(num_select=4, num_population=3)


# ------------------------------------------------------------------------------------ helpers


class ChainNet(nn.Module):
    """Two LayerChoices in a row (no InputChoice): what SPOSEvolution searches."""

    def __init__(self) -> None:
        super().__init__()
        self.first = LayerChoice([nn.Conv2d(1, 4, 3, padding=1), nn.Conv2d(1, 4, 1)], key="first")
        self.second = LayerChoice([nn.Conv2d(4, 4, 3, padding=1), nn.Identity()], key="second")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.second(self.first(x)).mean((2, 3)))


def ss_of(model: nn.Module) -> dict:
    """Classic mode's search space of a LayerChoice-only model."""
    return {
        m.key: {"_type": "layer_choice", "_value": list(m.names)}
        for m in model.modules()
        if isinstance(m, LayerChoice)
    }


# ------------------------------------------------------------------------------------- compat


def test_spos_resolves_at_nni_v1_and_v2_paths() -> None:
    if "nni" in sys.modules and not compat.is_installed():
        pytest.skip("a real nni is imported in this process")
    compat.install()
    try:
        v1 = importlib.import_module("nni.nas.pytorch.spos")
        v2 = importlib.import_module("nni.algorithms.nas.pytorch.spos")
        assert v1 is v2 is spos
        for module in ("mutator", "trainer", "evolution"):
            assert importlib.import_module(f"nni.nas.pytorch.spos.{module}") is getattr(
                spos, module
            )
        assert v1.SPOSEvolution is SPOSEvolution
    finally:
        compat.uninstall()


# ----------------------------------------------------------------- SPOSSearch, in one process


class TwoChoices(nn.Module):
    """Two LayerChoices in a row (SPOS evolves layer choices only); 3 classes."""

    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.Conv2d(1, 4, 3, padding=1)
        self.first = LayerChoice(sampling_candidates(), key="first")
        self.second = LayerChoice(sampling_candidates(), key="second")
        self.fc = nn.Linear(4, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.second(torch.relu(self.first(torch.relu(self.stem(x)))))
        return self.fc(h.mean((2, 3)))


class RecordingEvolution(SPOSEvolution):
    """Keeps every reward it receives."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.scored: list[tuple[dict, float]] = []

    def receive_trial_result(self, parameter_id, parameters, value, **kwargs) -> None:
        self.scored.append((parameters, value))
        super().receive_trial_result(parameter_id, parameters, value, **kwargs)


def _search(**evolution) -> SPOSSearch:
    torch.manual_seed(0)
    np.random.seed(0)
    model = TwoChoices()
    train = DataLoader(images(16), batch_size=4, shuffle=True)
    valid = DataLoader(images(8, seed=1), batch_size=4)
    settings = {"max_epochs": 2, "num_select": 2, "num_population": 4, "checkpoint_dir": None}
    tuner = RecordingEvolution(**{**settings, "num_crossover": 1, "num_mutation": 1, **evolution})
    return SPOSSearch(_spos_trainer(model, train, valid), tuner)


def test_the_search_trains_then_scores_every_candidate_and_keeps_the_lowest_loss() -> None:
    search = _search()
    search.train()
    scored = search.evolution.scored
    assert len(search.trainer.history) == 1  # the supernet epoch came first
    assert search.evaluated == len(scored) >= 6  # 4 random, then a second round
    best, reward = search.best
    assert reward == max(value for _, value in scored)
    masks = {
        key: torch.tensor([i == choice["_idx"] for i in range(3)]) for key, choice in best.items()
    }
    search.trainer.model.eval()
    with torch.no_grad():
        assert -validation_loss(search.trainer, masks).item() == pytest.approx(reward)


def test_export_writes_the_best_as_one_hot_lists_that_apply_to_a_fresh_model(tmp_path) -> None:
    search = _search()
    with pytest.raises(RuntimeError, match="call train"):
        search.export(tmp_path / "arch.json")
    search.train()
    search.export(tmp_path / "arch.json")
    exported = json.loads((tmp_path / "arch.json").read_text())
    best, _ = search.best
    assert exported == {k: [i == c["_idx"] for i in range(3)] for k, c in best.items()}
    apply_fixed_architecture(TwoChoices(), str(tmp_path / "arch.json"))


def test_checkpoint_dir_places_the_selections_and_none_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _search().train()
    assert not (tmp_path / "checkpoints").exists()
    search = _search(checkpoint_dir=tmp_path / "picked")
    search.train()
    assert sorted(p.name for p in (tmp_path / "picked").iterdir())[:2] == [
        "000_000.json",
        "000_001.json",
    ]
