"""ENAS: the controller's sampling walk (steps, anchors, NNI's checks), its log-probability,
entropy and skip penalty, the REINFORCE trainer's schedule and baseline, and NNI's pipeline."""

import re

import pytest
import torch
import torch.nn.functional as F
from enas_spaces import ProbeNet, StepCounter
from sampling_spaces import BranchNet, CallCounter, export_and_apply, images, trainer_arguments
from torch import nn

from nasops.algorithms.enas import EnasMutator, EnasTrainer
from nasops.mutables import InputChoice, LayerChoice
from nasops.search_space_zoo import ENASMacroGeneralModel, ENASMicroLayer
from nasops.utils import _reset_global_mutable_counting


def _trainer(model: nn.Module, **overrides) -> EnasTrainer:
    arguments = trainer_arguments(model)
    arguments.update(
        reward_function=lambda logits, y: (logits.argmax(1) == y).float().mean(),
        child_steps=2,
        mutator_steps=1,
        mutator_steps_aggregate=2,
    )
    arguments.update(overrides)
    trainer = EnasTrainer(**arguments)
    trainer.progress = False
    return trainer


# ------------------------------------------------------------------ construction and checks


def test_controller_state_dict_keys_are_nnis_so_an_nni_checkpoint_loads() -> None:
    model = nn.Sequential(LayerChoice([nn.Conv2d(1, 1, 1), nn.ReLU()], key="reduce_0"))
    mutator = EnasMutator(model, lstm_num_layers=2)
    assert list(mutator.state_dict()) == [
        "g_emb",
        "skip_targets",
        "lstm.lstm_modules.0.weight_ih",
        "lstm.lstm_modules.0.weight_hh",
        "lstm.lstm_modules.1.weight_ih",
        "lstm.lstm_modules.1.weight_hh",
        "attn_anchor.weight",
        "attn_query.weight",
        "v_attn.weight",
        "bias_dict.reduce_0",
        "embedding.weight",
        "soft.weight",
    ]
    assert mutator.embedding.weight.shape == (3, 64) and mutator.soft.weight.shape == (2, 64)


def test_keys_containing_reduce_get_plus_bias_for_conv_candidates_minus_for_others() -> None:
    model = nn.Sequential(
        LayerChoice([nn.Conv2d(1, 1, 1), nn.ReLU()], key="reduce_0"),
        LayerChoice([nn.Conv2d(1, 1, 1), nn.ReLU()], key="normal_0"),
    )
    mutator = EnasMutator(model, branch_bias=0.3)
    assert list(mutator.bias_dict) == ["reduce_0"]
    assert mutator.bias_dict["reduce_0"].tolist() == pytest.approx([0.3, -0.3])
    assert not mutator.bias_dict["reduce_0"].requires_grad


def test_layer_choices_of_different_lengths_are_rejected_with_nnis_message() -> None:
    model = nn.Sequential(
        LayerChoice([nn.ReLU(), nn.Tanh()]), LayerChoice([nn.ReLU(), nn.Tanh(), nn.Identity()])
    )
    with pytest.raises(
        AssertionError,
        match=re.escape(
            "ENAS mutator requires all layer choice have the same number of candidates."
        ),
    ):
        EnasMutator(model)


@pytest.mark.parametrize("n_chosen", [2, 0])
def test_input_choice_choosing_neither_one_nor_any_is_rejected_when_sampling(n_chosen) -> None:
    mutator = EnasMutator(ProbeNet(n_chosen=n_chosen))
    message = "Input choice must select exactly one or any in ENAS."
    with pytest.raises(AssertionError, match=re.escape(message)):
        mutator.reset()


def test_entropy_reduction_other_than_sum_or_mean_is_rejected_with_nnis_message() -> None:
    message = "Entropy reduction must be one of sum and mean."
    with pytest.raises(AssertionError, match=re.escape(message)):
        EnasMutator(ProbeNet(), entropy_reduction="max")


# ---------------------------------------------------------------------------- the walk


@pytest.mark.parametrize("extra_step", [False, True])
def test_the_controller_steps_once_more_per_scope_with_cell_exit_extra_step(extra_step) -> None:
    mutator = EnasMutator(ProbeNet(), cell_exit_extra_step=extra_step)
    counter = StepCounter(mutator)
    mutator.reset()
    assert counter.steps == ProbeNet.LSTM_STEPS + extra_step * ProbeNet.SCOPES


@pytest.mark.parametrize("extra_step", [False, True])
def test_zoo_spaces_step_once_per_layer_choice_new_label_and_with_the_extra_step_scope(
    extra_step,
) -> None:
    # Micro, 3 nodes: 6 LayerChoices, the label "" once; 3 Node scopes.
    micro = EnasMutator(ENASMicroLayer(3, 4, 4, 4, False), cell_exit_extra_step=extra_step)
    # Macro, 3 layers: 3 LayerChoices; every skip label is an earlier scope; 3 layer scopes.
    macro = EnasMutator(ENASMacroGeneralModel(3, 4), cell_exit_extra_step=extra_step)
    for mutator, steps, scopes in ((micro, 7, 3), (macro, 3, 3)):
        counter = StepCounter(mutator)
        mutator.reset()
        assert counter.steps == steps + extra_step * scopes


def test_anchors_after_sampling_are_the_no_key_label_then_each_scope() -> None:
    mutator = EnasMutator(ProbeNet())
    mutator.reset()
    assert list(mutator._anchors_hid) == ["", "c0", "c1"]


def test_a_scope_anchor_is_the_hidden_state_after_its_exit_step() -> None:
    mutator = EnasMutator(ProbeNet(), cell_exit_extra_step=True)
    hidden = []
    mutator.lstm.register_forward_hook(lambda _m, _i, out: hidden.append(out[0][-1]))
    mutator.reset()
    # Steps: c0_op, "" (for c0_in), exit c0, c1_op, exit c1.
    assert mutator._anchors_hid[""] is hidden[1]
    assert mutator._anchors_hid["c0"] is hidden[2]
    assert mutator._anchors_hid["c1"] is hidden[4]


def test_masks_are_bool_and_only_the_sampled_candidates_run() -> None:
    torch.manual_seed(0)
    model = ProbeNet()
    mutator, counter = EnasMutator(model), CallCounter(model)
    for _ in range(5):
        mutator.reset()
        counter.clear()
        model(torch.randn(2, 3, 4, 4))
        for key, mask in mutator._cache.items():
            assert mask.dtype == torch.bool, key
        for key in ("c0_op", "c1_op"):
            assert counter.calls[key] == [int(m) for m in mutator._cache[key].tolist()]
        assert mutator._cache["c0_in"].sum() == 1 and mutator._cache["skip"].shape == (2,)


def test_same_seed_gives_the_same_controller_and_samples() -> None:
    def run() -> list:
        torch.manual_seed(4)
        mutator = EnasMutator(ProbeNet())
        samples = []
        for _ in range(4):
            mutator.reset()
            samples.append({k: v.tolist() for k, v in mutator._cache.items()})
        return samples

    assert run() == run()


# ----------------------------------------------------------- log-prob, entropy, penalty


def test_log_prob_and_entropy_of_one_layer_choice_are_its_softmax_terms() -> None:
    torch.manual_seed(5)
    mutator = EnasMutator(
        nn.Sequential(LayerChoice([nn.Identity()] * 4, key="lc")), temperature=2.0
    )
    mutator.reset()
    zeros = torch.zeros(1, 64)
    h, _ = mutator.lstm.lstm_modules[0](mutator.g_emb, (zeros, zeros))
    logit = 1.5 * torch.tanh(mutator.soft(h) / 2.0)  # temperature first, then tanh_constant
    p = F.softmax(logit, -1).view(-1)
    index = int(mutator._cache["lc"].nonzero())
    p = p.detach()
    assert float(mutator.sample_log_prob.detach()) == pytest.approx(
        float(-p[index].log()), rel=1e-5
    )
    expected_entropy = float(-p[index].log() * p[index])
    assert float(mutator.sample_entropy) == pytest.approx(expected_entropy, rel=1e-5)
    assert mutator.sample_skip_penalty == 0


def test_log_prob_and_skip_penalty_are_on_the_graph_and_reach_the_controller() -> None:
    torch.manual_seed(6)
    mutator = EnasMutator(ProbeNet())
    mutator.reset()
    assert mutator.sample_log_prob.requires_grad and mutator.sample_skip_penalty.requires_grad
    assert not mutator.sample_entropy.requires_grad
    (mutator.sample_log_prob + mutator.sample_skip_penalty).backward()
    for name in ("lstm.lstm_modules.0.weight_ih", "attn_anchor.weight", "attn_query.weight"):
        grad = dict(mutator.named_parameters())[name].grad
        assert grad is not None and grad.abs().sum() > 0, name
    for name in ("soft.weight", "v_attn.weight", "embedding.weight"):
        assert dict(mutator.named_parameters())[name].grad.abs().sum() > 0, name
    assert mutator.g_emb.grad is None  # NNI feeds g_emb detached


def test_the_skip_penalty_is_the_kl_of_the_skip_probabilities_from_the_target() -> None:
    torch.manual_seed(7)
    lc = LayerChoice([nn.Identity()] * 2, key="a")
    mutator = EnasMutator(
        nn.Sequential(lc, InputChoice(choose_from=["a"], n_chosen=None, key="s")),
        tanh_constant=None,
        skip_target=0.3,
    )
    mutator.reset()
    with torch.no_grad():
        h = mutator._anchors_hid["a"]
        query = mutator.v_attn(torch.tanh(mutator.attn_anchor(h) + mutator.attn_query(h)))
        prob = torch.sigmoid(torch.cat([-query, query], 1))
        kl = (prob * torch.log(prob / torch.tensor([0.7, 0.3]))).sum()
    assert float(mutator.sample_skip_penalty.detach()) == pytest.approx(float(kl), rel=1e-5)


# -------------------------------------------------------------------------- the trainer


def test_dataset_train_is_split_nine_to_one_for_weights_and_reward() -> None:
    trainer = _trainer(BranchNet(), dataset_train=images(20))
    assert list(trainer.train_loader.sampler.indices) == list(range(18))
    assert list(trainer.valid_loader.sampler.indices) == [18, 19]


def test_a_dataset_train_of_one_sample_is_rejected() -> None:
    with pytest.raises(ValueError, match=r"at least 2 samples.*got 1"):
        _trainer(BranchNet(), dataset_train=images(1))


def test_an_epoch_runs_child_steps_then_aggregated_controller_steps() -> None:
    torch.manual_seed(8)
    model = BranchNet()
    trainer = _trainer(model, child_steps=3, mutator_steps=2, mutator_steps_aggregate=3)
    steps = {"weights": 0, "controller": 0}
    for name, optimizer in (("weights", trainer.optimizer), ("controller", trainer.mutator_optim)):
        step = optimizer.step

        def counted(*args, _name=name, _step=step, **kwargs):
            steps[_name] += 1
            return _step(*args, **kwargs)

        optimizer.step = counted
    modes = []
    model.register_forward_pre_hook(lambda module, _: modes.append(module.training))
    trainer.train_one_epoch(0)
    assert steps == {"weights": 3, "controller": 2}
    assert modes == [True] * 3 + [False] * 6


def test_the_baseline_is_the_moving_average_of_rewards_with_the_entropy_bonus() -> None:
    torch.manual_seed(9)
    trainer = _trainer(
        BranchNet(), reward_function=lambda *_: 0.5, baseline_decay=0.9, entropy_weight=0.01
    )
    X, y = images(4).tensors
    first = trainer.controller_step(0, X, y)
    assert first["reward"] == pytest.approx(0.5 + 0.01 * first["ent"])
    assert first["baseline"] == pytest.approx(0.1 * first["reward"])
    second = trainer.controller_step(1, X, y)
    assert second["baseline"] == pytest.approx(0.9 * first["baseline"] + 0.1 * second["reward"])
    assert trainer.update_baseline(1.0) == pytest.approx(0.9 * second["baseline"] + 0.1)


def test_reinforce_makes_the_rewarded_candidate_more_likely() -> None:
    torch.manual_seed(10)
    model = BranchNet()
    trainer = _trainer(
        model,
        reward_function=lambda *_: float(trainer.mutator._cache["left"][2]),
        mutator_lr=0.05,
        entropy_weight=0.0,
        baseline_decay=0.5,
    )
    mutator = trainer.mutator

    @torch.no_grad()
    def p_left_2() -> float:
        zeros = torch.zeros(1, 64)
        h, _ = mutator.lstm.lstm_modules[0](mutator.g_emb, (zeros, zeros))
        return float(F.softmax(1.5 * torch.tanh(mutator.soft(h)), -1)[0, 2])

    before = p_left_2()
    X, y = images(4).tensors
    for step in range(40):
        trainer.controller_step(step, X, y)
    assert p_left_2() > before + 0.2


def test_the_auxiliary_head_loss_is_added_with_aux_weight() -> None:
    class WithAux(BranchNet):
        def forward(self, x):
            logits = super().forward(x)
            return logits, 2 * logits

    trainer = _trainer(WithAux(), aux_weight=0.25)
    trainer.mutator.reset()
    X, y = images(4).tensors
    logits, loss = trainer.logits_and_loss(X, y)
    expected = F.cross_entropy(logits, y) + 0.25 * F.cross_entropy(2 * logits, y)
    assert float(loss.detach()) == pytest.approx(float(expected.detach()), rel=1e-5)


def test_nni_pipeline_trains_exports_and_applies_to_a_fresh_model(backend, tmp_path) -> None:
    torch.manual_seed(11)
    _reset_global_mutable_counting()
    trainer = _trainer(BranchNet(), test_arc_per_epoch=2)
    trainer.train()
    assert len(trainer.history) == 2  # one validation per tested architecture
    assert {"loss", "acc1", "reward", "baseline", "ctrl_loss"} <= set(trainer.history[0]["train"])
    exported = export_and_apply(trainer, BranchNet(), tmp_path)
    assert set(exported) == {"left", "right", "join"}
    assert exported["join"] in ("left", "right")  # n_chosen=1 exports the one key
