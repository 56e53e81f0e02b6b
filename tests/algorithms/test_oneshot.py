"""One-shot (Bender et al.): every candidate runs, InputChoice inputs are dropped with
probability r^(1/k) while training, an all-dropped choice outputs zeros, and the trainer ranks
random sub-networks to pick the export."""

import math

import pytest
import torch
from sampling_spaces import (
    BranchNet,
    CallCounter,
    HostReads,
    export_and_apply,
    trainer_arguments,
)
from torch import nn

from nasops.algorithms.oneshot import OneshotMutator, OneshotTrainer
from nasops.mutables import InputChoice

FAN_INS = (1, 2, 5)


def _fan_in_space() -> nn.ModuleList:
    return nn.ModuleList(InputChoice(k, key=f"k{k}") for k in FAN_INS)


@pytest.mark.parametrize("drop_rate", [0.01, 0.3])
def test_each_input_is_kept_with_probability_one_minus_r_to_the_one_over_k(
    drop_rate: float,
) -> None:
    torch.manual_seed(0)
    mutator = OneshotMutator(_fan_in_space(), drop_rate=drop_rate)
    draws = 8_000
    samples = []
    for _ in range(draws):
        mutator.reset()
        samples.append(torch.cat([mutator._cache[f"k{k}"] for k in FAN_INS]))
    by_fan_in = torch.stack(samples).split(FAN_INS, dim=1)
    kept = {k: masks.sum(0) for k, masks in zip(FAN_INS, by_fan_in, strict=True)}
    all_dropped = {
        k: int((~masks).all(1).sum()) for k, masks in zip(FAN_INS, by_fan_in, strict=True)
    }
    for k in FAN_INS:
        keep = 1 - drop_rate ** (1 / k)
        tolerance = 5 * math.sqrt(keep * (1 - keep) / draws)  # five binomial deviations
        assert (kept[k] / draws - keep).abs().max() < tolerance, k
        tolerance = 5 * math.sqrt(drop_rate * (1 - drop_rate) / draws)
        assert abs(all_dropped[k] / draws - drop_rate) < tolerance, k


def test_drop_probability_is_r_to_the_one_over_k() -> None:
    mutator = OneshotMutator(_fan_in_space(), drop_rate=0.05)
    assert mutator.drop_probability(2) == pytest.approx(0.05**0.5)
    assert mutator.drop_probability(7) == pytest.approx(0.65, abs=0.01)  # the seed's example


def test_every_candidate_runs_in_training_and_in_eval() -> None:
    model = BranchNet()
    mutator, counter = OneshotMutator(model), CallCounter(model)
    for training in (True, False):
        mutator.train(training)
        counter.clear()
        mutator.reset()
        model(torch.randn(2, 1, 8, 8))
        assert counter.calls == {"left": [1, 1, 1], "right": [1, 1, 1]}


def test_eval_mode_drops_nothing() -> None:
    mutator = OneshotMutator(_fan_in_space(), drop_rate=0.9)
    mutator.eval()
    for _ in range(50):
        mutator.reset()
        assert all(mask.all() for mask in mutator._cache.values())


def test_masks_are_drawn_on_the_host_from_the_seeded_default_generator() -> None:
    def draws() -> list[list[bool]]:
        torch.manual_seed(1)
        mutator = OneshotMutator(_fan_in_space(), drop_rate=0.3)
        result = []
        for _ in range(10):
            mutator.reset()
            assert all(mask.device.type == "cpu" for mask in mutator._cache.values())
            result.append(mutator._cache["k5"].tolist())
        return result

    assert draws() == draws()


def _all_dropped_choice(reduction: str) -> tuple[InputChoice, OneshotMutator]:
    torch.manual_seed(2)
    choice = InputChoice(2, reduction=reduction, key="ic")
    mutator = OneshotMutator(nn.Sequential(choice), drop_rate=0.3)
    while True:
        mutator.reset()
        if not mutator._cache["ic"].any():
            return choice, mutator


@pytest.mark.parametrize(
    ("reduction", "shape"), [("sum", (2, 3)), ("mean", (2, 3)), ("concat", (2, 6))]
)
def test_all_dropped_inputs_give_zeros_of_the_output_shape_on_the_graph(
    reduction: str, shape: tuple[int, ...], backend: str
) -> None:
    choice, _ = _all_dropped_choice(reduction)
    inputs = [torch.randn(2, 3, requires_grad=True) for _ in range(2)]
    out = choice(inputs)
    assert out.shape == shape and torch.equal(out, torch.zeros(shape))
    out.sum().backward()
    assert all(torch.equal(x.grad, torch.zeros(2, 3)) for x in inputs)


def test_a_pinned_empty_input_selection_also_gives_zeros() -> None:
    choice = InputChoice(3, key="ic")
    mutator = OneshotMutator(nn.Sequential(choice))
    mutator._cache = {"ic": torch.zeros(3, dtype=torch.bool)}
    assert torch.equal(choice([torch.ones(2)] * 3), torch.zeros(2))


def test_forward_reads_nothing_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    model = BranchNet(n_chosen=None)
    mutator = OneshotMutator(model, drop_rate=0.5)
    x = torch.randn(2, 1, 8, 8)
    for _ in range(5):
        mutator.reset()
        with monkeypatch.context() as patch:
            HostReads(patch, refuse=True)
            model(x)


@pytest.mark.parametrize("drop_rate", [-0.1, 1.0, 2.0])
def test_drop_rate_outside_zero_one_is_rejected(drop_rate: float) -> None:
    with pytest.raises(ValueError, match=r"drop_rate must be in \[0, 1\)"):
        OneshotMutator(BranchNet(), drop_rate=drop_rate)


def test_sample_final_before_ranking_is_a_random_architecture() -> None:
    torch.manual_seed(3)
    mutator = OneshotMutator(BranchNet(n_chosen=1))
    finals = [mutator.export() for _ in range(20)]
    assert all(f["left"] in range(3) and f["join"] in ("left", "right") for f in finals)
    assert len({f["left"] for f in finals}) > 1


def _oneshot_trainer(**kwargs) -> OneshotTrainer:
    torch.manual_seed(4)
    trainer = OneshotTrainer(**trainer_arguments(BranchNet()), **kwargs)
    trainer.progress = False
    return trainer


def test_trainer_steps_only_the_weights_on_all_the_training_data() -> None:
    trainer = _oneshot_trainer(drop_rate=0.2, num_candidates=0)
    assert trainer.mutator.drop_rate == 0.2 and list(trainer.mutator.parameters()) == []
    assert len(trainer.train_loader.dataset) == 16 and trainer.train_steps() == 4
    stem, fc = trainer.model.stem.weight.detach().clone(), trainer.model.fc.weight.detach().clone()
    trainer.train()
    assert not torch.equal(stem, trainer.model.stem.weight)
    assert not torch.equal(fc, trainer.model.fc.weight)
    assert trainer.mutator.best_architecture is None


def test_trainer_ranks_candidates_and_the_mutator_exports_the_best() -> None:
    trainer = _oneshot_trainer(num_candidates=6)
    trainer.train()
    best = trainer.mutator.best_architecture
    assert best is not None
    assert trainer.mutator.export() == trainer.mutator.export()  # the best, not a new draw
    assert trainer.mutator.sample_final() == best


def test_trainer_rejects_a_negative_candidate_count() -> None:
    with pytest.raises(ValueError, match="num_candidates must be an int >= 0, got -1"):
        _oneshot_trainer(num_candidates=-1)


def test_nni_pipeline_train_export_apply_to_a_fresh_model(backend: str, tmp_path) -> None:
    trainer = _oneshot_trainer(num_candidates=4)
    trainer.train()
    exported = export_and_apply(trainer, BranchNet(), tmp_path)
    assert exported == trainer.mutator.export()
