"""GDAS: one Gumbel-sampled candidate runs per LayerChoice, at value weight exactly 1, with a
gradient to every logit; the temperature schedule; the argmax export; NNI's pipeline."""

import pytest
import torch
import torch.nn.functional as F
from sampling_spaces import (
    BranchNet,
    CallCounter,
    HostReads,
    export_and_apply,
    trainer_arguments,
)
from torch import nn

from nasops import callbacks
from nasops.algorithms.gdas import GdasMutator, GdasTrainer
from nasops.mutables import InputChoice, LayerChoice


def _sampled(mutator: GdasMutator) -> dict[str, int]:
    return {key: int(mutator._cache[key].argmax()) for key in mutator.choices}


def test_choices_are_logits_per_candidate_in_the_state_dict() -> None:
    mutator = GdasMutator(BranchNet())
    assert sorted(mutator.state_dict()) == ["choices.left", "choices.right"]
    assert all(p.shape == (3,) and p.abs().max() < 0.01 for p in mutator.parameters())


def test_exactly_one_candidate_per_layer_choice_is_called() -> None:
    torch.manual_seed(0)
    model = BranchNet()
    mutator, counter = GdasMutator(model), CallCounter(model)
    seen = set()
    for _ in range(10):
        mutator.reset()
        counter.clear()
        model(torch.randn(2, 1, 8, 8))
        for key, index in _sampled(mutator).items():
            assert counter.calls[key] == [int(i == index) for i in range(3)]
            seen.add((key, index))
    assert len(seen) > 2  # at tau = 10 the draws vary


def test_mask_is_exactly_one_hot_in_value_and_the_output_is_the_chosen_candidate_alone() -> None:
    torch.manual_seed(1)
    ops = [nn.Linear(2, 2) for _ in range(4)]
    lc = LayerChoice(ops, return_mask=True, key="lc")
    mutator = GdasMutator(nn.Sequential(lc))
    x = torch.randn(3, 2)
    for _ in range(5):
        mutator.reset()
        out, mask = lc(x)
        index = int(mask.argmax())
        assert torch.equal(mask.detach(), F.one_hot(torch.tensor(index), 4).float())
        assert mask.requires_grad
        assert torch.equal(out, ops[index](x))


def test_one_backward_gives_every_logit_a_non_zero_gradient(backend: str) -> None:
    torch.manual_seed(2)
    model = BranchNet(n_chosen=None)
    mutator = GdasMutator(model)
    mutator.reset()
    F.cross_entropy(model(torch.randn(4, 1, 8, 8)), torch.tensor([0, 1, 2, 0])).backward()
    for key, logits in mutator.choices.items():
        assert logits.grad is not None and (logits.grad != 0).all(), key


def test_reset_reads_the_host_once_and_forward_not_at_all(monkeypatch: pytest.MonkeyPatch) -> None:
    model = BranchNet(n_chosen=None)
    mutator = GdasMutator(model)
    x = torch.randn(2, 1, 8, 8)
    reads = HostReads(monkeypatch)
    mutator.reset()
    assert reads.count == 1
    model(x)
    assert reads.count == 1


def test_input_choices_connect_every_input_while_searching() -> None:
    model = BranchNet(n_chosen=1)
    mutator = GdasMutator(model)
    mutator.reset()
    assert mutator._cache["join"].tolist() == [True, True]


def test_a_shorter_choice_never_samples_past_its_candidates() -> None:
    torch.manual_seed(3)
    short = LayerChoice([nn.Identity(), nn.Identity()], key="short")
    long = LayerChoice([nn.Identity() for _ in range(5)], key="long")
    mutator = GdasMutator(nn.Sequential(short, long))
    for _ in range(50):
        mutator.reset()
        assert mutator._cache["short"].shape == (2,) and mutator._cache["long"].shape == (5,)
        assert mutator._cache["short"].sum() == 1


def test_same_seed_gives_the_same_logits_and_samples() -> None:
    def run() -> tuple[list, list]:
        torch.manual_seed(4)
        mutator = GdasMutator(BranchNet())
        samples = []
        for _ in range(5):
            mutator.reset()
            samples.append(_sampled(mutator))
        return [p.tolist() for p in mutator.parameters()], samples

    assert run() == run()


def test_low_temperature_samples_follow_the_argmax() -> None:
    torch.manual_seed(5)
    mutator = GdasMutator(nn.Sequential(LayerChoice([nn.Identity()] * 3, key="lc")), 1.0, 0.01)
    with torch.no_grad():
        mutator.choices["lc"].copy_(torch.tensor([0.0, 10.0, 0.0]))
    mutator.set_temperature(1, 2)
    for _ in range(20):
        mutator.reset()
        assert _sampled(mutator) == {"lc": 1}


@pytest.mark.parametrize(
    ("epoch", "num_epochs", "tau"), [(0, 5, 10.0), (4, 5, 0.1), (2, 5, 5.05), (0, 1, 10.0)]
)
def test_temperature_is_linear_from_tau_max_to_tau_min(
    epoch: int, num_epochs: int, tau: float
) -> None:
    mutator = GdasMutator(BranchNet())
    assert mutator.set_temperature(epoch, num_epochs) == pytest.approx(tau)
    assert mutator.tau == pytest.approx(tau)


@pytest.mark.parametrize(("tau_max", "tau_min"), [(1.0, 2.0), (1.0, 0.0), (-1.0, -2.0)])
def test_bad_temperatures_are_rejected(tau_max: float, tau_min: float) -> None:
    with pytest.raises(ValueError, match="0 < tau_min <= tau_max"):
        GdasMutator(BranchNet(), tau_max, tau_min)


def test_sample_final_is_the_argmax_and_input_choices_keep_the_strongest_sources() -> None:
    model = BranchNet(n_chosen=1)
    mutator = GdasMutator(model)
    with torch.no_grad():
        mutator.choices["left"].copy_(torch.tensor([0.0, 1.0, 0.0]))
        mutator.choices["right"].copy_(torch.tensor([5.0, 0.0, 0.0]))
    final = {key: mask.tolist() for key, mask in mutator.sample_final().items()}
    # "right" is the more certain source: "left" loses the join and selects nothing (DARTS).
    assert final == {
        "left": [False, False, False],
        "right": [True, False, False],
        "join": [False, True],
    }
    assert mutator.export() == {"left": [], "right": 0, "join": "right"}


def test_sample_final_input_choice_without_n_chosen_keeps_all_and_no_key_weighs_zero(
    caplog: pytest.LogCaptureFixture,
) -> None:
    lc = LayerChoice([nn.Identity(), nn.Tanh()], key="op")
    free = InputChoice(2, key="free")
    picky = InputChoice(choose_from=["", "op"], n_chosen=1, key="picky")
    mutator = GdasMutator(nn.ModuleList([lc, free, picky]))
    final = mutator.sample_final()
    assert final["free"].tolist() == [True, True]
    assert final["picky"].tolist() == [False, True]
    assert "InputChoice.NO_KEY in 'picky' is weighted 0 when selecting inputs." in caplog.text


def test_sample_final_silences_a_losing_input_choice_source_as_nni_does() -> None:
    lc = LayerChoice([nn.Identity(), nn.Tanh()], key="op")
    inner = InputChoice(2, key="inner")
    outer = InputChoice(choose_from=["inner", "op"], n_chosen=1, key="outer")
    final = GdasMutator(nn.ModuleList([lc, inner, outer])).sample_final()
    assert final["outer"].tolist() == [False, True]
    assert final["inner"].tolist() == [False, False]


def _gdas_trainer(epochs: int = 1, **kwargs) -> GdasTrainer:
    torch.manual_seed(6)
    model = BranchNet()
    trainer = GdasTrainer(**trainer_arguments(model, epochs), **kwargs)
    trainer.progress = False
    return trainer


class TemperatureRecorder(callbacks.Callback):
    def __init__(self) -> None:
        super().__init__()
        self.taus: list[float] = []

    def on_epoch_end(self, epoch: int) -> None:
        self.taus.append(self.mutator.tau)


def test_trainer_sets_the_temperature_each_epoch_and_learns_the_logits() -> None:
    recorder = TemperatureRecorder()
    trainer = _gdas_trainer(3, callbacks=[recorder], tau_max=4.0, tau_min=1.0)
    before = [p.detach().clone() for p in trainer.mutator.parameters()]
    trainer.train()
    assert recorder.taus == pytest.approx([4.0, 2.5, 1.0])
    after = list(trainer.mutator.parameters())
    assert all(not torch.equal(b, a) for b, a in zip(before, after, strict=True))
    assert len(trainer.history) == 3


def test_trainer_splits_the_training_data_and_optimizes_the_logits_with_adam() -> None:
    trainer = _gdas_trainer(arc_learning_rate=1e-2)
    assert len(trainer.train_loader.sampler) == len(trainer.valid_loader.sampler) == 8
    assert trainer.train_steps() == 2
    group = trainer.ctrl_optim.param_groups[0]
    assert isinstance(trainer.ctrl_optim, torch.optim.Adam)
    assert (group["lr"], group["betas"], group["weight_decay"]) == (1e-2, (0.5, 0.999), 1e-3)


def test_validation_runs_the_argmax_architecture() -> None:
    trainer = _gdas_trainer()
    trainer.validate()
    final = trainer.mutator.sample_final()
    assert all(torch.equal(trainer.mutator._cache[key], mask) for key, mask in final.items())


def test_nni_pipeline_train_export_apply_to_a_fresh_model(backend: str, tmp_path) -> None:
    trainer = _gdas_trainer()
    trainer.train()
    exported = export_and_apply(trainer, BranchNet(), tmp_path)
    assert exported == trainer.mutator.export()
    assert exported["join"] in ("left", "right")
