"""DARTS: the mutator's relaxation and export (NNI v2.8 §3.12), the first-order and the unrolled
(second-order) architecture steps, and the search → export → fixed-architecture pipeline."""

import inspect
import json
import logging

import pytest
import torch
import torch.nn.functional as F
from darts_spaces import (
    FACTORS,
    ExportSpace,
    ScaleNet,
    TwoChoiceNet,
    accuracy,
    images,
)
from torch import nn
from torch.utils.data import TensorDataset

import nasops.mutator
from nasops.algorithms.darts import DartsMutator, DartsTrainer
from nasops.algorithms.darts.unrolled import hessian_vector_product
from nasops.fixed import apply_fixed_architecture
from nasops.mutables import InputChoice, LayerChoice

# ------------------------------------------------------------------------------- the mutator


def test_each_layer_choice_has_one_logit_per_candidate_plus_the_zero_op() -> None:
    mutator = DartsMutator(TwoChoiceNet())
    assert {key: tuple(a.shape) for key, a in mutator.choices.items()} == {
        "conv1": (3,),
        "conv2": (3,),
    }
    assert set(mutator.state_dict()) == {"choices.conv1", "choices.conv2"}
    assert mutator.device() == torch.device("cpu")


def test_search_masks_are_softmax_weights_without_the_zero_op_and_all_true_inputs() -> None:
    mutator = DartsMutator(TwoChoiceNet())
    masks = mutator.sample_search()
    for key in ("conv1", "conv2"):
        expected = F.softmax(mutator.choices[key], -1)[:-1]
        torch.testing.assert_close(masks[key], expected)
        assert masks[key].requires_grad
    assert masks["skip"].dtype == torch.bool and masks["skip"].tolist() == [True]


def _oracle_mutator() -> DartsMutator:
    mutator = DartsMutator(ExportSpace())
    with torch.no_grad():
        mutator.choices["e0"].copy_(torch.tensor([4.0, 0.0, 0.0, -4.0]))
        mutator.choices["e1"].copy_(torch.tensor([0.2, 0.0, 0.0, 3.0]))  # zero op wins
        mutator.choices["e2"].copy_(torch.tensor([0.0, 4.0, 0.0, -4.0]))
    return mutator


def test_final_architecture_and_export_match_nni_oracle() -> None:
    mutator = _oracle_mutator()
    final = {key: mask.tolist() for key, mask in mutator.sample_final().items()}
    assert final == {
        "e0": [True, False, False],
        "e1": [False, False, False],  # lost the InputChoice: silenced
        "e2": [False, True, False],
        "sw": [True, False, True],
    }
    assert mutator.export() == {"e0": 0, "e1": [], "e2": 1, "sw": ["e0", "e2"]}


class NoKeySource(nn.Module):
    def __init__(self, n_chosen: int | None) -> None:
        super().__init__()
        self.e0 = LayerChoice([nn.Identity(), nn.Tanh()], key="e0")
        self.sw = InputChoice(choose_from=["", "e0"], n_chosen=n_chosen, key="sw")


def test_a_source_that_is_no_layer_choice_is_weighted_zero_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mutator = DartsMutator(NoKeySource(n_chosen=1))
    with caplog.at_level(logging.WARNING, logger="nasops.algorithms"):
        final = mutator.sample_final()
    assert final["sw"].tolist() == [False, True]
    assert caplog.messages == ["InputChoice.NO_KEY in 'sw' is weighted 0 when selecting inputs."]


def test_an_input_choice_without_n_chosen_keeps_every_input() -> None:
    final = DartsMutator(NoKeySource(n_chosen=None)).sample_final()
    assert final["sw"].tolist() == [True, True]


def test_reset_and_forward_never_read_a_mask_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    model = TwoChoiceNet()
    mutator = DartsMutator(model)
    X = images(4).tensors[0]

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("host read of a mask")

    monkeypatch.setattr(nasops.mutator, "compile_decision", refuse)
    monkeypatch.setattr(torch.Tensor, "tolist", refuse)
    monkeypatch.setattr(torch.Tensor, "item", refuse)
    mutator.reset()
    model(X).sum().backward()
    monkeypatch.undo()
    assert all(alpha.grad.abs().sum() > 0 for alpha in mutator.choices.values())


def test_every_candidate_runs_even_with_a_minus_inf_logit_and_contributes_nothing() -> None:
    model = ScaleNet()
    mutator = DartsMutator(model)
    with torch.no_grad():
        mutator.choices["lc"].copy_(torch.tensor([-float("inf"), 0.5, 0.0, 0.0]))
    mutator.reset()
    x = torch.ones(1, 4)
    out = model(x)
    weights = F.softmax(torch.tensor([0.5, 0.0, 0.0]), -1)
    expected = weights[0] * FACTORS[1] + weights[1] * FACTORS[2]
    torch.testing.assert_close(out, torch.full((1, 4), expected.item()))
    assert [op.calls for op in model.lc] == [1, 1, 1]


def test_a_mask_set_by_other_code_runs_only_what_it_selects() -> None:
    model = ScaleNet()
    mutator = DartsMutator(model)
    mutator._cache = {"lc": torch.tensor([False, True, False])}
    assert model(torch.ones(1, 4)).tolist() == [[2.0] * 4]
    assert [op.calls for op in model.lc] == [0, 1, 0]


# ------------------------------------------------------------------------------ the trainer


def test_signature_is_nnis() -> None:
    assert list(inspect.signature(DartsTrainer).parameters) == [
        "model",
        "loss",
        "metrics",
        "optimizer",
        "num_epochs",
        "dataset_train",
        "dataset_valid",
        "mutator",
        "batch_size",
        "workers",
        "device",
        "log_frequency",
        "callbacks",
        "arc_learning_rate",
        "unrolled",
        "memory",  # nasops' additions, after NNI's arguments
        "compile",
    ]


def _trainer(model: nn.Module, data: TensorDataset, **kwargs: object) -> DartsTrainer:
    options = {"optimizer": torch.optim.SGD(model.parameters(), lr=0.1), "loss": F.cross_entropy}
    options.update(kwargs)
    trainer = DartsTrainer(
        model,
        metrics=accuracy,
        num_epochs=1,
        dataset_train=data,
        dataset_valid=data,
        batch_size=8,
        workers=0,
        device="cpu",
        **options,
    )
    trainer.progress = False
    return trainer


def _halves(data: TensorDataset) -> tuple[tuple[torch.Tensor, torch.Tensor], ...]:
    X, y = data.tensors
    n = len(X) // 2
    return (X[:n], y[:n]), (X[n:], y[n:])


def test_architecture_optimizer_is_adam_on_the_mutator_parameters() -> None:
    model = TwoChoiceNet()
    trainer = _trainer(model, images(16), arc_learning_rate=0.01)
    group = trainer.ctrl_optim.param_groups[0]
    assert isinstance(trainer.ctrl_optim, torch.optim.Adam)
    assert (group["lr"], group["betas"], group["weight_decay"]) == (0.01, (0.5, 0.999), 1e-3)
    assert group["params"] == list(trainer.mutator.choices.values())


def test_dataset_train_is_split_into_weight_and_architecture_halves() -> None:
    trainer = _trainer(TwoChoiceNet(), images(16))
    assert sorted(trainer.train_loader.sampler.indices) == list(range(8))
    assert sorted(trainer.valid_loader.sampler.indices) == list(range(8, 16))
    assert trainer.train_steps() == 1


def test_a_step_gives_every_architecture_parameter_a_gradient() -> None:
    torch.manual_seed(0)
    trainer = _trainer(TwoChoiceNet(), images(16))
    metrics = trainer.train_step(_halves(images(16)))
    assert set(metrics) == {"acc1", "loss"}
    for alpha in trainer.mutator.choices.values():
        assert torch.isfinite(alpha.grad).all() and alpha.grad.abs().min() > 0


def test_first_order_step_follows_the_hand_computed_validation_gradient() -> None:
    torch.manual_seed(0)
    model = ScaleNet()
    data = TensorDataset(torch.randn(8, 4), torch.randn(8, 4))
    trainer = _trainer(model, data, loss=F.mse_loss)
    trainer.metrics = lambda logits, y: {}
    alpha = trainer.mutator.choices["lc"]
    with torch.no_grad():
        alpha.copy_(torch.tensor([0.3, -0.2, 0.1, 0.5]))
    alpha0 = alpha.detach().clone()
    train, (val_X, val_y) = _halves(data)

    trainer.train_step((train, (val_X, val_y)))

    # L = mean((Σ p_i f_i x + b - y)²) at the weights before the step (b = 0).
    p = F.softmax(alpha0, -1)
    factors = torch.tensor([*FACTORS, 0.0])  # the zero op contributes nothing
    out = (p * factors).sum() * val_X
    d_out = 2 * (out - val_y) / out.numel()
    d_p = factors * (d_out * val_X).sum()
    expected = p * (d_p - (p * d_p).sum())  # through the softmax
    torch.testing.assert_close(alpha.grad, expected)
    # Adam's first step: lr · g / (|g| + eps), the gradient including weight decay 1e-3.
    g = expected + 1e-3 * alpha0
    torch.testing.assert_close(alpha.detach(), alpha0 - 3e-4 * g / (g.abs() + 1e-8))


# ------------------------------------------------------------------------- the unrolled step


def _reference_logits(
    w: dict[str, torch.Tensor], alphas: dict[str, torch.Tensor], X: torch.Tensor
) -> torch.Tensor:
    """TwoChoiceNet(batchnorm=False) written with plain torch ops (no nasops op)."""

    def choice(key: str, x: torch.Tensor) -> torch.Tensor:
        p = F.softmax(alphas[key], -1)
        return p[0] * F.conv2d(x, w[f"{key}.0.weight"], w[f"{key}.0.bias"], padding=1) + p[
            1
        ] * F.conv2d(x, w[f"{key}.1.weight"], w[f"{key}.1.bias"])

    x0 = torch.tanh(choice("conv1", X))
    x1 = torch.tanh(choice("conv2", x0)) + x0
    return F.linear(x1.mean((2, 3)), w["fc.weight"], w["fc.bias"])


class UnrolledCase:
    """A float64 TwoChoiceNet with momentum buffers, and DARTS' objective written by hand."""

    lr, momentum, weight_decay = 0.5, 0.9, 0.01

    def __init__(self, optimizer: str = "sgd") -> None:
        torch.manual_seed(0)
        self.model = TwoChoiceNet(batchnorm=False).double()
        self.mutator = DartsMutator(self.model).double()
        with torch.no_grad():
            for alpha in self.mutator.choices.values():
                alpha.normal_()
        data = images(16, dtype=torch.float64)
        if optimizer == "sgd":
            opt = torch.optim.SGD(
                self.model.parameters(),
                lr=self.lr,
                momentum=self.momentum,
                weight_decay=self.weight_decay,
            )
        else:
            opt = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        self.trainer = _trainer(self.model, data, optimizer=opt, mutator=self.mutator)
        (self.trn_X, self.trn_y), (self.val_X, self.val_y) = _halves(data)
        self.trainer.weight_step(self.trn_X, self.trn_y)  # a real step: momentum buffers exist

    def alphas(self) -> torch.Tensor:
        return torch.cat([a.detach() for a in self.mutator.choices.values()])

    def grad(self) -> torch.Tensor:
        return torch.cat([a.grad for a in self.mutator.choices.values()])

    def architecture_step(self, unrolled: bool) -> torch.Tensor:
        self.trainer.ctrl_optim.zero_grad()
        if unrolled:
            self.trainer._unrolled_backward(self.trn_X, self.trn_y, self.val_X, self.val_y)
        else:
            self.trainer._backward(self.val_X, self.val_y)
        return self.grad()

    def unrolled_loss(self, flat_alphas: torch.Tensor, create_graph: bool) -> torch.Tensor:
        """L_val(w'(α), α), with w' = w − ξ(μ·m + ∇w L_train(w, α) + λ·w)."""
        alphas = dict(zip(self.mutator.choices, flat_alphas.split(3), strict=True))
        named = dict(self.model.named_parameters())
        w = {name: p.detach().requires_grad_() for name, p in named.items()}
        train_loss = F.cross_entropy(_reference_logits(w, alphas, self.trn_X), self.trn_y)
        grads = torch.autograd.grad(train_loss, list(w.values()), create_graph=create_graph)
        virtual = {}
        for name, g in zip(w, grads, strict=True):
            m = self.trainer.optimizer.state[named[name]].get("momentum_buffer")
            momentum = 0.0 if m is None else self.momentum * m
            virtual[name] = w[name] - self.lr * (momentum + g + self.weight_decay * w[name])
        return F.cross_entropy(_reference_logits(virtual, alphas, self.val_X), self.val_y)


@pytest.mark.parametrize(("v", "expected"), [([1.0, 0.0], [6.0, 0.0]), ([0.0, 0.0], [0.0, 0.0])])
def test_hessian_vector_product_by_central_differences(v: list, expected: list) -> None:
    alpha = torch.tensor([1.0, 2.0], dtype=torch.float64, requires_grad=True)
    weights = {"w": torch.tensor([3.0, 4.0], dtype=torch.float64)}

    def loss_at(w: dict, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (alpha * w["w"] ** 2).sum()  # ∇α L = w², so ∇²_{α,w} L · v = 2·w·v

    vector = [torch.tensor(v, dtype=torch.float64)]
    (product,) = hessian_vector_product(loss_at, weights, vector, [alpha], None, None)
    torch.testing.assert_close(product, torch.tensor(expected, dtype=torch.float64))


def test_reference_objective_is_the_model() -> None:
    case = UnrolledCase()
    case.mutator.reset()
    alphas = {key: a.detach() for key, a in case.mutator.choices.items()}
    weights = dict(case.model.named_parameters())
    torch.testing.assert_close(
        case.model(case.val_X), _reference_logits(weights, alphas, case.val_X)
    )


def test_unrolled_gradient_is_the_derivative_through_the_virtual_step() -> None:
    case = UnrolledCase()
    unrolled = case.architecture_step(unrolled=True)

    flat = case.alphas().requires_grad_()
    (exact,) = torch.autograd.grad(case.unrolled_loss(flat, create_graph=True), flat)
    h = 1e-6
    numeric = torch.stack(
        [
            (
                case.unrolled_loss(case.alphas() + h * e, create_graph=False)
                - case.unrolled_loss(case.alphas() - h * e, create_graph=False)
            )
            / (2 * h)
            for e in torch.eye(len(flat), dtype=torch.float64)
        ]
    )
    torch.testing.assert_close(exact, numeric, rtol=1e-6, atol=1e-9)
    # The Hessian-vector product is a central difference with ε = 0.01/‖∇w' L_val‖.
    torch.testing.assert_close(unrolled, exact, rtol=1e-4, atol=1e-7)


def test_unrolled_gradient_differs_from_first_order() -> None:
    case = UnrolledCase()
    first_order = case.architecture_step(unrolled=False)
    unrolled = case.architecture_step(unrolled=True)
    assert (unrolled - first_order).norm() > 0.05 * first_order.norm()


def test_architecture_step_leaves_weights_and_optimizer_state_as_they_were() -> None:
    case = UnrolledCase()
    weights = {name: p.detach().clone() for name, p in case.model.named_parameters()}
    buffers = [s["momentum_buffer"].clone() for s in case.trainer.optimizer.state.values()]
    case.architecture_step(unrolled=True)
    for name, p in case.model.named_parameters():
        assert torch.equal(p, weights[name]), name
    after = [s["momentum_buffer"] for s in case.trainer.optimizer.state.values()]
    assert all(torch.equal(a, b) for a, b in zip(after, buffers, strict=True))


def test_unrolled_step_reads_no_momentum_from_an_optimizer_without_it() -> None:
    case = UnrolledCase(optimizer="adam")  # NNI raised KeyError: 'momentum'
    case.weight_decay = 0.0
    unrolled = case.architecture_step(unrolled=True)
    flat = case.alphas().requires_grad_()
    (exact,) = torch.autograd.grad(case.unrolled_loss(flat, create_graph=True), flat)
    torch.testing.assert_close(unrolled, exact, rtol=1e-4, atol=1e-7)


# ------------------------------------------------------------------------------ the pipeline


@pytest.mark.parametrize("unrolled", [False, True], ids=["first_order", "unrolled"])
def test_search_export_and_fixed_architecture_pipeline(
    backend: str, unrolled: bool, tmp_path: object, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    model = TwoChoiceNet()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, weight_decay=3e-4)
    trainer = DartsTrainer(
        model,
        loss=nn.CrossEntropyLoss(),
        metrics=accuracy,
        optimizer=optimizer,
        num_epochs=1,
        dataset_train=images(16),
        dataset_valid=images(8, seed=1),
        batch_size=4,
        workers=0,
        device="cpu",
        unrolled=unrolled,
    )
    trainer.progress = False
    trainer.train()
    assert len(trainer.history) == 1
    assert set(trainer.history[0]["train"]) == {"acc1", "loss"}
    assert set(trainer.history[0]["valid"]) == {"acc1"}

    trainer.export("arc.json")
    text = (tmp_path / "arc.json").read_text()
    arc = json.loads(text)
    assert text == json.dumps(arc, indent=2, sort_keys=True)
    assert arc["conv1"] in (0, 1) and arc["conv2"] in (0, 1) and arc["skip"] == ""

    fresh = TwoChoiceNet()
    apply_fixed_architecture(fresh, "arc.json", verbose=False)
    assert isinstance(fresh.conv1, nn.Conv2d) and isinstance(fresh.conv2, nn.Conv2d)
    assert fresh(images(2).tensors[0]).shape == (2, 3)
