"""memory="recompute": candidates recomputed in backward give the default mode's gradients, count
batch-norm statistics once, replay dropout, skip zero weights, run parameter-free candidates
once and keep far less memory."""

import warnings

import pytest
import torch
from torch import nn

from nasops import LayerChoice
from nasops.algorithms.darts import DartsMutator
from nasops.bench.memory import peak_bytes
from nasops.mutator import Mutator
from nasops.ops import reduce
from nasops.ops.recompute import recompute_reduce
from nasops.search_space_zoo.darts_cell import _edge_candidates
from nasops.utils import _reset_global_mutable_counting

TOLERANCE = {torch.float64: 1e-10, torch.float32: 1e-5}


def _candidates(dtype: torch.dtype, seed: int = 1) -> nn.ModuleList:
    """Dropout alone, convolution + batch norm, a skip, dropout + convolution, pooling: the kinds
    of DARTS ops, the parameter-free ones (kept) between those that are recomputed, so the two
    dropouts draw in the default mode's order only if each recompute replays its own state."""
    torch.manual_seed(seed)
    return nn.ModuleList(
        [
            nn.Dropout(0.3),
            nn.Sequential(nn.Conv2d(3, 3, 3, padding=1), nn.BatchNorm2d(3), nn.ReLU()),
            nn.Identity(),
            nn.Sequential(nn.Dropout(0.5), nn.Conv2d(3, 3, 1)),
            nn.AvgPool2d(3, 1, 1),
        ]
    ).to(dtype)


def _grads(out: torch.Tensor, leaves: list[torch.Tensor], seed: int = 2) -> list[torch.Tensor]:
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    return list(torch.autograd.grad(out, leaves, g, allow_unused=True))


def _both_modes(
    dtype: torch.dtype, reduction: str, weights: torch.Tensor | None, keep: bool | None = None
):
    """Outputs and gradients (input, weights, every parameter) of both modes, same RNG; ``keep``
    is recompute_reduce's ``keep_parameter_free``."""
    results = []
    for recompute in (False, True):
        modules = _candidates(dtype)
        x = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0), dtype=dtype)
        x.requires_grad_()
        w = None if weights is None else weights.detach().clone().requires_grad_()
        torch.manual_seed(5)
        if recompute:
            out = recompute_reduce(list(modules), (x,), {}, w, reduction, keep)
        else:
            out = reduce([m(x) for m in modules], w, reduction)
        leaves = [x, *modules.parameters()] + ([] if w is None else [w])
        results.append((out, _grads(out, leaves), modules))
    return results


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("reduction", ["sum", "mean"])
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("keep", [None, False])  # None: kept on the CPU; False: recomputed
def test_gradients_equal_the_default_mode(dtype, reduction, weighted, keep):
    weights = torch.tensor([0.6, 0.4, -0.3, 0.2, 0.7], dtype=dtype) if weighted else None
    (out, grads, _), (out_r, grads_r, _) = _both_modes(dtype, reduction, weights, keep)
    tol = TOLERANCE[dtype]
    torch.testing.assert_close(out_r, out, atol=tol, rtol=tol)
    assert len(grads) == len(grads_r) == 1 + 6 + (1 if weighted else 0)  # x, 6 parameters, w
    for g, g_r in zip(grads, grads_r, strict=True):
        torch.testing.assert_close(g_r, g, atol=tol, rtol=tol)


@pytest.mark.parametrize("keep", [True, False])
def test_batch_norm_statistics_are_updated_once_per_step(keep):
    weights = torch.rand(5).double()
    (_, _, default), (_, _, recomputed) = _both_modes(torch.float64, "sum", weights, keep)
    bn, bn_r = default[1][1], recomputed[1][1]
    assert int(bn_r.num_batches_tracked) == int(bn.num_batches_tracked) == 1
    torch.testing.assert_close(bn_r.running_mean, bn.running_mean, atol=0, rtol=0)
    torch.testing.assert_close(bn_r.running_var, bn.running_var, atol=0, rtol=0)


class _Scaled(nn.Module):
    """``module(x) * scale`` with a learnable ``scale`` (1): gives ``module`` a parameter."""

    def __init__(self, module: nn.Module) -> None:
        super().__init__()
        self.module = module
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.module(x) * self.scale


def test_dropout_sees_the_same_numbers_and_the_generator_is_left_as_after_the_forward():
    x = torch.ones(64, requires_grad=True)
    torch.manual_seed(3)
    out = recompute_reduce([_Scaled(nn.Dropout(0.5)), nn.Identity()], (x,), {}, None)
    after_forward = torch.get_rng_state()
    (grad,) = torch.autograd.grad(out, [x], torch.ones(64))
    # d out / d x = dropout's mask (0 or 2) + 1: the recompute drew the forward's mask.
    torch.testing.assert_close(grad, out.detach())
    assert torch.equal(torch.get_rng_state(), after_forward)


class _Counting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(2.0))
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x * self.scale


def test_zero_weight_candidates_are_skipped_in_both_passes():
    modules = [_Counting() for _ in range(3)]
    w = torch.tensor([0.5, 0.0, 0.25], requires_grad=True)
    x = torch.randn(4, requires_grad=True)
    out = recompute_reduce(modules, (x,), {}, w)
    assert [m.calls for m in modules] == [1, 0, 1]
    grad_x, grad_w, grad_skipped = torch.autograd.grad(
        out, [x, w, modules[1].scale], torch.ones(4), allow_unused=True
    )
    assert [m.calls for m in modules] == [2, 0, 2]
    torch.testing.assert_close(out, 0.5 * 2 * x + 0.25 * 2 * x)
    torch.testing.assert_close(grad_x, torch.full((4,), 1.5))
    torch.testing.assert_close(grad_w, torch.stack([2 * x.sum(), torch.zeros(()), 2 * x.sum()]))
    assert grad_skipped is None


class _CountingFree(nn.Module):
    """``2·x``, with no parameter; counts its calls."""

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return 2 * x


@pytest.mark.parametrize(("keep", "free_calls"), [(None, 1), (True, 1), (False, 2)])
def test_parameter_free_candidates_run_once_and_keep_their_graph_on_the_cpu(keep, free_calls):
    free, counted = _CountingFree(), _Counting()
    w = torch.tensor([0.5, 0.25], requires_grad=True)
    x = torch.randn(4, requires_grad=True)
    out = recompute_reduce([free, counted], (x,), {}, w, keep_parameter_free=keep)
    grad_x, grad_w, grad_scale = torch.autograd.grad(out, [x, w, counted.scale], torch.ones(4))
    assert (free.calls, counted.calls) == (free_calls, 2)
    torch.testing.assert_close(grad_x, torch.full((4,), 0.5 * 2 + 0.25 * 2))
    torch.testing.assert_close(grad_w, torch.stack([2 * x.sum(), 2 * x.sum()]).detach())
    torch.testing.assert_close(grad_scale, 0.25 * x.sum().detach())


def test_a_frozen_candidate_on_inputs_without_grad_runs_once():
    """DARTS' architecture step on the stem's outputs: only the weights want a gradient."""
    frozen, trained = _Counting(), _Counting()
    frozen.scale.requires_grad_(False)
    w = torch.tensor([0.5, 0.25], requires_grad=True)
    x = torch.randn(4)
    out = recompute_reduce([frozen, trained], (x,), {}, w)
    grad_w, grad_scale = torch.autograd.grad(out, [w, trained.scale], torch.ones(4))
    assert (frozen.calls, trained.calls) == (1, 2)
    torch.testing.assert_close(grad_w, torch.stack([2 * x.sum(), 2 * x.sum()]))
    torch.testing.assert_close(grad_scale, 0.25 * x.sum())


def test_recompute_runs_on_the_weights_the_forward_saw_under_functional_call():
    """DARTS' unrolled step evaluates the model on virtual weights with functional_call."""
    module = nn.Linear(3, 2)
    virtual = {name: (p.detach() + 1).requires_grad_() for name, p in module.named_parameters()}

    class Mixed(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.op = module

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return recompute_reduce([self.op, self.op], (x,), {}, torch.tensor([0.5, 0.5]))

    x = torch.randn(4, 3)
    mixed = Mixed()
    out = torch.func.functional_call(mixed, {f"op.{n}": v for n, v in virtual.items()}, (x,))
    grads = torch.autograd.grad(out.sum(), list(virtual.values()))
    expected = torch.autograd.grad(
        torch.func.functional_call(module, virtual, (x,)).sum(), list(virtual.values())
    )
    for g, e in zip(grads, expected, strict=True):
        torch.testing.assert_close(g, e)


def test_a_retained_graph_backpropagates_twice_like_the_default_mode():
    (out, grads, _), _ = _both_modes(torch.float64, "sum", None)
    modules = _candidates(torch.float64)
    x = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.manual_seed(5)
    out_r = recompute_reduce(list(modules), (x.requires_grad_(),), {}, None)
    leaves = list(modules.parameters())
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(2), dtype=out.dtype)
    first = torch.autograd.grad(out_r, leaves, g, retain_graph=True)
    second = torch.autograd.grad(out_r, leaves, g)
    torch.testing.assert_close(second, first, atol=0, rtol=0)
    torch.testing.assert_close(second, tuple(grads[1:]), atol=1e-10, rtol=1e-10)


def test_double_backward_is_refused_with_a_clear_error():
    x = torch.randn(4, requires_grad=True)
    out = recompute_reduce([nn.Identity(), nn.Tanh()], (x,), {}, None)
    with pytest.raises(RuntimeError, match="create_graph=True"):
        torch.autograd.grad(out.sum(), [x], create_graph=True)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"reduction": "concat"}, "accepted are"),
        ({"weights": torch.ones(3)}, "one per candidate"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {"weights": None, "reduction": "sum", **kwargs}
    with pytest.raises(ValueError, match=message):
        recompute_reduce([nn.Identity(), nn.Identity()], (torch.ones(2),), {}, **arguments)


# ------------------------------------------------------------------ the mutators' memory mode


class _Cell(nn.Module):
    def __init__(self, reduction: str = "sum") -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 8, 1)
        self.choice = LayerChoice(
            [
                nn.Sequential(nn.Conv2d(8, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU()),
                nn.Sequential(nn.Conv2d(8, 8, 5, padding=2), nn.BatchNorm2d(8), nn.ReLU()),
                nn.MaxPool2d(3, 1, 1),
                nn.Identity(),
            ],
            reduction=reduction,
            key="op",
        )
        self.head = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.choice(self.stem(x)).mean((2, 3)))


def _darts(memory: str, reduction: str = "sum") -> tuple[nn.Module, DartsMutator]:
    _reset_global_mutable_counting()
    torch.manual_seed(0)
    model = _Cell(reduction).double()
    mutator = DartsMutator(model).double()
    mutator.memory = memory
    return model, mutator


def test_darts_mutator_in_recompute_mode_gives_the_default_gradients():
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    grads = {}
    for memory in ("default", "recompute"):
        model, mutator = _darts(memory)
        mutator.reset()
        loss = model(x).square().sum()
        grads[memory] = torch.autograd.grad(loss, [*model.parameters(), *mutator.parameters()])
    for g, g_r in zip(grads["default"], grads["recompute"], strict=True):
        torch.testing.assert_close(g_r, g, atol=1e-10, rtol=1e-10)


def test_unsupported_reduction_falls_back_with_one_warning():
    model, mutator = _darts("recompute", reduction="concat")
    mutator.reset()
    x = torch.randn(2, 3, 6, 6, dtype=torch.float64)
    model.head = nn.Linear(32, 3).double()
    with pytest.warns(RuntimeWarning, match="reduction 'concat'.*default mode"):
        model(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model(x)  # warned once only


def test_bad_memory_mode_is_rejected():
    _, mutator = _darts("default")
    with pytest.raises(ValueError, match=r"memory must be one of \('default', 'recompute'\)"):
        mutator.memory = "lean"


class _FixedMutator(Mutator):
    def __init__(self, model: nn.Module, mask: list) -> None:
        super().__init__(model)
        self.mask = mask

    def sample_search(self) -> dict:
        return {"op": self.mask}


def test_hard_mask_of_several_candidates_is_recomputed_and_zero_mask_entries_skipped():
    _reset_global_mutable_counting()
    torch.manual_seed(0)
    results = {}
    for memory in ("default", "recompute"):
        torch.manual_seed(0)
        model = _Cell()
        mutator = _FixedMutator(model, [True, False, True, True])
        mutator.memory = memory
        mutator.reset()
        loss = model(torch.ones(2, 3, 4, 4)).sum()
        results[memory] = torch.autograd.grad(loss, list(model.parameters()), allow_unused=True)
    for g, g_r in zip(results["default"], results["recompute"], strict=True):
        assert (g is None) == (g_r is None)
        if g is not None:
            torch.testing.assert_close(g_r, g, atol=1e-5, rtol=1e-5)


def _mixed_step(memory: str, ops: list[nn.Module], keep: bool | None = None) -> int:
    """Peak bytes torch allocates during one forward + backward of a mixed op of ``ops``."""
    x = torch.randn(4, 8, 32, 32, requires_grad=True)
    w = torch.full((len(ops),), 1 / len(ops), requires_grad=True)

    def step() -> None:
        if memory == "recompute":
            out = recompute_reduce(ops, (x,), {}, w, keep_parameter_free=keep)
        else:
            out = reduce([op(x) for op in ops], w, "sum")
        out.sum().backward()

    step()  # gradients allocated before the measured step
    return peak_bytes(step, "cpu")


def _convolutions() -> list[nn.Module]:
    torch.manual_seed(0)
    convs = [nn.Conv2d(8, 8, 3, padding=1) for _ in range(6)]
    return [nn.Sequential(c, nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()) for c in convs]


def test_recompute_peak_memory_is_well_below_the_default():
    ops = _convolutions()
    default, recompute = _mixed_step("default", ops), _mixed_step("recompute", ops)
    # Default keeps 6 candidates x 3 activations (128 KiB each); recompute about one candidate.
    assert recompute < 0.5 * default, (recompute, default)


def test_a_darts_edge_keeps_its_pooling_graphs_and_still_far_less_memory():
    torch.manual_seed(0)
    ops = list(_edge_candidates(8, 1).values())
    default, recompute = _mixed_step("default", ops), _mixed_step("recompute", ops)
    # Default keeps every candidate's activations (a sep conv alone about 8 outputs' worth);
    # recompute keeps the pooling graphs (a few outputs each) and one candidate's at a time.
    assert recompute < 0.5 * default, (recompute, default)
    # Recomputing the pooling candidates too (CUDA's choice) keeps less still.
    assert _mixed_step("recompute", ops, keep=False) < recompute
