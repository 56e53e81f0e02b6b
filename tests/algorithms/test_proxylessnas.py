"""ProxylessNAS: a MixedOp per LayerChoice in the model's state_dict, the binary gates and their
exact gradients in every mode, the softmax chain rule, the final argmax, NNI's pipeline."""

import json

import pytest
import torch
import torch.nn.functional as F
from proxyless_spaces import ChainNet, OneChoice, loaders
from sampling_spaces import CallCounter, HostReads
from torch import nn

from nasops.algorithms.proxylessnas import ProxylessNasMutator, ProxylessNasTrainer
from nasops.algorithms.random import RandomMutator
from nasops.callbacks import Callback
from nasops.fixed import apply_fixed_architecture
from nasops.mutables import InputChoice, LayerChoice, MutableScope

GATED_MODES = ("full", "two", "full_v2")


def _mixed(model: nn.Module, key: str = "lc"):
    return getattr(model, key).registered_module


def _gate_mutator(model: nn.Module, mode: str | None, active: int, others: list[int]):
    """A mutator in ``mode`` whose LayerChoice "lc" runs ``active``, ``others`` involved."""
    mutator = ProxylessNasMutator(model)
    mutator.change_forward_mode(mode)
    mutator.arch_requires_grad()
    model.lc.registered_module.apply_sample(model.lc, active, others)
    return mutator


def _exact_gate_gradients(model: OneChoice, x: torch.Tensor, active: int, involved: list[int]):
    """``<dL/d out, out_k>`` for each involved candidate, in plain torch, independently of
    the mutator: L = sum(model(x)^2) with the active candidate's output as the variable."""
    with torch.no_grad():
        h = model.stem(x)
        outs = [candidate(h) for candidate in model.lc]
    y = outs[active].clone().requires_grad_()
    (g,) = torch.autograd.grad(model.head(torch.tanh(y)).pow(2).sum(), y)
    return torch.stack(
        [(g * outs[k]).sum() if k in involved else g.new_zeros(()) for k in range(3)]
    )


# ------------------------------------------------------------------------------ the mutator


def test_every_layer_choice_gets_a_mixed_op_whose_parameters_are_in_the_model_state_dict() -> None:
    model = ChainNet()
    mutator = ProxylessNasMutator(model)
    keys = [k for k in model.state_dict() if "registered_module" in k]
    assert keys == [
        "a.registered_module.ap_path_alpha",
        "a.registered_module.ap_path_wb",
        "b.registered_module.ap_path_alpha",
        "b.registered_module.ap_path_wb",
    ]
    assert [p.shape for p in mutator.get_architecture_parameters()] == [(3,), (2,)]
    assert list(mutator.parameters()) == [] and mutator.num_arch_params() == 2


def test_layer_choices_sharing_a_key_get_a_mixed_op_each() -> None:
    model = nn.Sequential(
        LayerChoice([nn.Linear(2, 2), nn.Linear(2, 2)], key="s"),
        LayerChoice([nn.Linear(2, 2), nn.Linear(2, 2)], key="s"),
    )
    mutator = ProxylessNasMutator(model)
    assert mutator.num_arch_params() == 2
    assert model[0].registered_module is not model[1].registered_module


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (lambda: InputChoice(n_candidates=2, key="join"), "InputChoice 'join' at 'extra'"),
        (lambda: MutableScope("cell"), "MutableScope 'cell' at 'extra'"),
    ],
)
def test_an_input_choice_or_mutable_scope_raises_a_type_error_naming_it(extra, named) -> None:
    model = ChainNet()
    model.extra = extra()
    with pytest.raises(TypeError, match=f"supports LayerChoice only.*{named}"):
        ProxylessNasMutator(model)
    RandomMutator(model)  # the model was left unparsed, so another mutator can take it


def test_there_is_no_reset_and_export_is_not_implemented_as_in_nni() -> None:
    mutator = ProxylessNasMutator(ChainNet())
    assert not hasattr(mutator, "reset")
    with pytest.raises(NotImplementedError):
        mutator.export()


def test_return_mask_gives_the_active_index_as_an_int() -> None:
    lc = LayerChoice([nn.Linear(2, 2) for _ in range(3)], return_mask=True, key="lc")
    ProxylessNasMutator(nn.Sequential(lc)).reset_binary_gates()
    x = torch.randn(1, 2)
    out, mask = lc(x)
    assert type(mask) is int and mask == lc.registered_module.active_index[0]
    assert torch.equal(out, lc[mask](x))


def test_binary_gates_are_one_hot_draws_from_the_softmax_of_alpha() -> None:
    torch.manual_seed(0)
    model = ChainNet()
    mutator = ProxylessNasMutator(model)
    probs = torch.tensor([0.1, 0.3, 0.6])
    with torch.no_grad():
        model.a.registered_module.ap_path_alpha.copy_(probs.log())
    counts = torch.zeros(3)
    for _ in range(600):
        mutator.reset_binary_gates()
        mixed = model.a.registered_module
        (active,) = mixed.active_index
        assert torch.equal(mixed.ap_path_wb, F.one_hot(torch.tensor(active), 3).float())
        assert mixed.inactive_index == [i for i in range(3) if i != active]
        counts[active] += 1
    assert torch.allclose(counts / 600, probs, atol=0.06)


def test_the_same_seed_draws_the_same_gates() -> None:
    def draws(seed: int) -> list[int]:
        torch.manual_seed(seed)
        model = ChainNet()
        mutator = ProxylessNasMutator(model)
        with torch.no_grad():
            for alpha in mutator.get_architecture_parameters():
                alpha.normal_()
        result = []
        for _ in range(8):
            mutator.reset_binary_gates()
            result += [
                model.a.registered_module.active_index[0],
                model.b.registered_module.active_index[0],
            ]
        return result

    assert draws(3) == draws(3) and draws(3) != draws(4)


def test_two_mode_draws_two_distinct_candidates_and_gates_the_active_one() -> None:
    torch.manual_seed(0)
    model = ChainNet()
    mutator = ProxylessNasMutator(model)
    mutator.change_forward_mode("two")
    pairs = set()
    for _ in range(50):
        mutator.reset_binary_gates()
        mixed = model.a.registered_module
        (active,), (other,) = mixed.active_index, mixed.inactive_index
        assert active != other
        assert torch.equal(mixed.ap_path_wb, F.one_hot(torch.tensor(active), 3).float())
        pairs.add((active, other))
    assert len(pairs) == 6


def test_two_mode_refuses_a_layer_choice_with_one_candidate() -> None:
    mutator = ProxylessNasMutator(nn.Sequential(LayerChoice([nn.Identity()], key="only")))
    with pytest.raises(ValueError, match=r"'two' draws two candidates.*'only' has 1"):
        mutator.change_forward_mode("two")


def test_an_unknown_forward_mode_is_refused() -> None:
    with pytest.raises(ValueError, match=r"forward mode must be one of.*got 'half'"):
        ProxylessNasMutator(ChainNet()).change_forward_mode("half")


@pytest.mark.parametrize(
    ("mode", "calls"),
    [(None, [0, 1, 0]), ("full_v2", [0, 1, 0]), ("full", [1, 1, 1]), ("two", [0, 1, 1])],
)
def test_forward_runs_the_active_candidate_alone_in_none_and_full_v2(mode, calls) -> None:
    model = OneChoice()
    _gate_mutator(model, mode, active=1, others=[2] if mode == "two" else [0, 2])
    counter = CallCounter(model)
    out = model(torch.randn(5, 3))
    assert counter.calls["lc"] == calls
    if mode == "full_v2":  # the backward runs every other candidate once, for its gate
        out.sum().backward()
        assert counter.calls["lc"] == [1, 1, 1]


@pytest.mark.parametrize("mode", [None, *GATED_MODES])
def test_forward_reads_nothing_on_the_host(mode, monkeypatch: pytest.MonkeyPatch) -> None:
    model = ChainNet()
    mutator = ProxylessNasMutator(model)
    mutator.change_forward_mode(mode)
    mutator.arch_requires_grad()
    mutator.reset_binary_gates()
    x = torch.randn(2, 1, 8, 8)
    HostReads(monkeypatch, refuse=True)
    assert model(x).shape == (2, 3)


@pytest.mark.parametrize("mode", GATED_MODES)
@pytest.mark.parametrize("active", [0, 1, 2])
def test_gate_gradients_are_the_exact_inner_products_with_each_candidate_output(
    mode, active
) -> None:
    torch.manual_seed(active)
    model, x = OneChoice(), torch.randn(5, 3)
    involved = [active, (active + 1) % 3] if mode == "two" else [0, 1, 2]
    _gate_mutator(model, mode, active, [k for k in involved if k != active])
    model(x).pow(2).sum().backward()
    expected = _exact_gate_gradients(model, x, active, involved)
    assert torch.allclose(_mixed(model).ap_path_wb.grad, expected, atol=1e-6)


def test_mode_none_gives_the_gates_no_gradient_as_in_nni() -> None:
    model = OneChoice()
    mutator = _gate_mutator(model, None, 0, [1, 2])
    model(torch.randn(5, 3)).pow(2).sum().backward()
    assert _mixed(model).ap_path_wb.grad is None
    with pytest.raises(RuntimeError, match="gates of LayerChoice 'lc' have no gradient"):
        mutator.set_arch_param_grad()


@pytest.mark.parametrize("mode", GATED_MODES)
def test_the_weights_get_the_gradients_of_mode_none(mode) -> None:
    x = torch.randn(5, 3)

    def grads(forward_mode):
        torch.manual_seed(0)
        model = OneChoice()
        _gate_mutator(model, forward_mode, 1, [0] if mode == "two" else [0, 2])
        model(x).pow(2).sum().backward()
        return [p.grad for p in (model.stem.weight, model.lc[1].weight, model.head.weight)]

    for got, want in zip(grads(mode), grads(None), strict=True):
        assert torch.allclose(got, want, atol=1e-6)


def test_full_v2_works_when_the_layer_choice_is_the_first_layer() -> None:
    lc = LayerChoice([nn.Linear(3, 3), nn.Linear(3, 3)], key="lc")
    mutator = ProxylessNasMutator(nn.Sequential(lc))
    mutator.change_forward_mode("full_v2")
    mutator.arch_requires_grad()
    mutator.reset_binary_gates()
    x = torch.randn(4, 3)  # no grad: NNI's autograd.grad on it raised
    lc(x).sum().backward()
    assert torch.allclose(
        lc.registered_module.ap_path_wb.grad, torch.stack([c(x).sum() for c in lc])
    )


def _softmax_chain_rule(alpha: torch.Tensor, gate_grads: torch.Tensor) -> torch.Tensor:
    """``Σ_j g_j·p_j·(δ_ij − p_i)`` written as NNI's double loop."""
    p = F.softmax(alpha, 0)
    n = len(alpha)
    return torch.stack(
        [sum(gate_grads[j] * p[j] * (float(i == j) - p[i]) for j in range(n)) for i in range(n)]
    )


def test_set_arch_param_grad_is_the_softmax_chain_rule_and_accumulates() -> None:
    torch.manual_seed(0)
    model = OneChoice()
    mutator = _gate_mutator(model, "full_v2", 1, [0, 2])
    mixed = _mixed(model)
    with torch.no_grad():
        mixed.ap_path_alpha.normal_()
    mixed.ap_path_wb.grad = torch.randn(3)
    expected = _softmax_chain_rule(mixed.ap_path_alpha.detach(), mixed.ap_path_wb.grad)
    mutator.set_arch_param_grad()
    assert torch.allclose(mixed.ap_path_alpha.grad, expected, atol=1e-7)
    mutator.set_arch_param_grad()
    assert torch.allclose(mixed.ap_path_alpha.grad, 2 * expected, atol=1e-7)


def test_in_two_mode_the_chain_rule_runs_over_the_drawn_pair_only() -> None:
    torch.manual_seed(1)
    model = OneChoice()
    mutator = _gate_mutator(model, "two", 1, [0])
    mixed = _mixed(model)
    with torch.no_grad():
        mixed.ap_path_alpha.normal_()
    mixed.ap_path_wb.grad = torch.randn(3)
    pair = torch.tensor([1, 0])
    expected = torch.zeros(3)
    expected[pair] = _softmax_chain_rule(
        mixed.ap_path_alpha.detach()[pair], mixed.ap_path_wb.grad[pair]
    )
    mutator.set_arch_param_grad()
    assert torch.allclose(mixed.ap_path_alpha.grad, expected, atol=1e-7)


def test_two_mode_rescaling_keeps_the_pair_log_sum_exp_so_the_third_keeps_its_probability() -> None:
    torch.manual_seed(2)
    model = OneChoice()
    mutator = _gate_mutator(model, "two", 0, [1])
    mixed = _mixed(model)
    with torch.no_grad():
        mixed.ap_path_alpha.normal_()
    mixed.ap_path_wb.grad = torch.randn(3)
    before = mixed.ap_path_alpha.detach().clone()
    mutator.set_arch_param_grad()
    torch.optim.SGD([mixed.ap_path_alpha], lr=1.0).step()
    mutator.rescale_updated_arch_param()
    after = mixed.ap_path_alpha.detach()
    assert torch.allclose(after[:2].logsumexp(0), before[:2].logsumexp(0), atol=1e-6)
    assert after[2] == before[2] and not torch.equal(after[:2], before[:2])


def test_a_zero_layer_active_leaves_alpha_without_gradient_and_others_need_no_method() -> None:
    model = OneChoice()
    mutator = _gate_mutator(model, "full_v2", 2, [0, 1])
    model(torch.randn(5, 3)).pow(2).sum().backward()
    mutator.set_arch_param_grad()
    assert _mixed(model).ap_path_alpha.grad is None
    model.lc.registered_module.apply_sample(model.lc, 0, [1, 2])  # nn.Linear: no is_zero_layer
    model(torch.randn(5, 3)).pow(2).sum().backward()
    mutator.set_arch_param_grad()
    assert _mixed(model).ap_path_alpha.grad is not None


def test_sample_final_is_the_argmax_of_alpha_as_one_hot_bool() -> None:
    model = ChainNet()
    mutator = ProxylessNasMutator(model)
    with torch.no_grad():
        model.a.registered_module.ap_path_alpha.copy_(torch.tensor([0.0, 2.0, 1.0]))
        model.b.registered_module.ap_path_alpha.copy_(torch.tensor([3.0, -1.0]))
    final = mutator.sample_final()
    assert final.keys() == {"a", "b"}
    assert final["a"].tolist() == [False, True, False] and final["a"].dtype == torch.bool
    assert final["b"].tolist() == [True, False]


def test_unused_modules_off_detaches_the_candidates_not_involved_and_back_restores_them() -> None:
    model = OneChoice()
    mutator = _gate_mutator(model, None, 1, [0, 2])
    candidates = list(model.lc)
    mutator.unused_modules_off()
    assert list(model.lc) == [None, candidates[1], None]
    mutator.unused_modules_back()
    assert list(model.lc) == candidates


# -------------------------------------------------------------------------------- the trainer


def _trainer(mode: str = "full_v2", **kwargs) -> ProxylessNasTrainer:
    torch.manual_seed(0)
    model = ChainNet()
    train_loader, valid_loader = loaders()
    arguments = {
        "n_epochs": 2,
        "warmup_epochs": 1,
        "grad_update_arch_param_every": 1,
        "binary_mode": mode,
    }
    trainer = ProxylessNasTrainer(
        model,
        torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
        "cpu",
        train_loader,
        valid_loader,
        **(arguments | kwargs),
    )
    trainer.progress = False
    return trainer


@pytest.mark.parametrize("mode", GATED_MODES)
def test_nni_pipeline_trains_exports_sample_final_and_retrains_a_fresh_model(
    mode, backend, tmp_path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    trainer = _trainer(mode, arch_path="arch.json")
    initial = [alpha.detach().clone() for alpha in trainer.mutator.get_architecture_parameters()]
    trainer.train()
    assert [record["epoch"] for record in trainer.history] == [0, 1, 2]
    assert (
        "arch_loss" in trainer.history[2]["train"]
        and "arch_loss" not in trainer.history[1]["train"]
    )
    final = trainer.mutator.get_architecture_parameters()
    assert any(not torch.equal(a, b) for a, b in zip(initial, final, strict=True))
    exported = json.loads((tmp_path / "arch.json").read_text())
    assert exported == {k: v.tolist() for k, v in trainer.mutator.sample_final().items()}
    fresh = ChainNet()
    apply_fixed_architecture(fresh, "arch.json", verbose=False)
    fresh(torch.randn(2, 1, 8, 8)).sum().backward()


def test_no_architecture_step_before_the_second_search_epoch() -> None:
    trainer = _trainer(n_epochs=1, warmup_epochs=2)
    initial = [alpha.detach().clone() for alpha in trainer.mutator.get_architecture_parameters()]
    trainer.train()
    assert len(trainer.history) == 3
    final = trainer.mutator.get_architecture_parameters()
    assert all(torch.equal(a, b) for a, b in zip(initial, final, strict=True))


def test_the_learning_rate_follows_the_warm_up_then_the_search_cosine() -> None:
    trainer = _trainer(n_epochs=2, warmup_epochs=1, init_lr=0.02)
    seen = []
    step = trainer.model_optim.step
    trainer.model_optim.step = lambda: (
        seen.append(trainer.model_optim.param_groups[0]["lr"]),
        step(),
    )
    trainer.train(validate=False)
    assert seen[0] == pytest.approx(0.05) and seen[4] == pytest.approx(0.02)
    assert seen[:4] == sorted(seen[:4], reverse=True) and seen[4:] == sorted(seen[4:], reverse=True)


def test_a_resumed_trainer_continues_after_the_last_finished_epoch(tmp_path) -> None:
    ckpt = str(tmp_path / "search.pt")
    first = _trainer(n_epochs=1, warmup_epochs=1, ckpt_path=ckpt)
    first.train()
    state = torch.load(ckpt)
    assert (state["warmup_curr_epoch"], state["train_curr_epoch"]) == (1, 1)
    resumed = _trainer(n_epochs=2, warmup_epochs=1, ckpt_path=ckpt, load_ckpt=True)
    resumed.train()
    assert [record["epoch"] for record in resumed.history] == [2]


def test_unknown_binary_mode_and_init_type_are_refused() -> None:
    with pytest.raises(ValueError, match=r"binary_mode must be one of.*got None"):
        _trainer(None)
    with pytest.raises(NotImplementedError, match=r"arch_init_type must be one of.*got 'zeros'"):
        _trainer(arch_init_type="zeros")


def test_callbacks_are_told_when_each_epoch_begins_and_ends() -> None:
    class Epochs(Callback):
        def __init__(self) -> None:
            super().__init__()
            self.events: list[tuple[str, int]] = []

        def on_epoch_begin(self, epoch: int) -> None:
            self.events.append(("begin", epoch))

        def on_epoch_end(self, epoch: int) -> None:
            self.events.append(("end", epoch, len(self.trainer.history)))

    callback = Epochs()
    _trainer(callbacks=[callback]).train()
    assert callback.events == [
        ("begin", 0),
        ("end", 0, 1),
        ("begin", 1),
        ("end", 1, 2),
        ("begin", 2),
        ("end", 2, 3),
    ]
