"""Gradients: gradcheck in float64, what is saved, and the copy-free paths without weights."""

import pytest
import torch

import nasops
from tests.ops.samples import OPS, assert_close, call, make_op_inputs, make_weights, reference


def _leaves(op, k, device, dtype=torch.float64):
    xs = [x.requires_grad_() for x in make_op_inputs(op, k, (3, 4), dtype, device)]
    weights = make_weights("mixed", k, device, dtype).requires_grad_()
    return xs, weights


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("k", [1, 2, 5])
def test_gradcheck_inputs_and_weights(backend, device, op, k):
    xs, weights = _leaves(op, k, device)
    assert torch.autograd.gradcheck(lambda *a: call(op, list(a[:-1]), a[-1]), (*xs, weights))


@pytest.mark.parametrize("op", OPS)
def test_gradcheck_without_weights(backend, device, op):
    xs, _ = _leaves(op, 3, device)
    assert torch.autograd.gradcheck(lambda *a: call(op, list(a), None), tuple(xs))


@pytest.mark.parametrize("op", OPS)
def test_gradcheck_concat_negative_dim_and_second_order_inputs(backend, device, op):
    xs, weights = _leaves(op, 3, device)
    dim = -1 if op == "concat" else 1
    xs = [x.detach().transpose(0, 1).requires_grad_() for x in xs] if op != "concat" else xs
    assert torch.autograd.gradcheck(lambda *a: call(op, list(a[:-1]), a[-1], dim), (*xs, weights))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16])
def test_gradients_match_the_reference_in_low_precision(backend, device, op, dtype):
    xs, weights = _leaves(op, 4, device, dtype)
    grad = torch.randn_like(call(op, xs, weights))
    got = torch.autograd.grad(call(op, xs, weights), [*xs, weights], grad)
    ref_in = [t.detach().double().requires_grad_() for t in [*xs, weights]]
    ref = torch.autograd.grad(reference(op, ref_in[:-1], ref_in[-1]), ref_in, grad.double())
    for g, r in zip(got, ref, strict=True):
        assert g.dtype == dtype
        assert_close(g, r, dtype)


def _saved_count(op, xs, weights) -> int:
    saved = []
    with torch.autograd.graph.saved_tensors_hooks(lambda t: saved.append(t) or t, lambda t: t):
        call(op, xs, weights)
    return len(saved)


@pytest.mark.parametrize("op", OPS)
def test_inputs_are_saved_only_for_the_weight_gradient(backend, device, op):
    xs, weights = _leaves(op, 3, device)
    assert _saved_count(op, xs, weights) == 4  # three inputs and the weights
    assert _saved_count(op, xs, weights.detach()) == 1  # the weights only
    assert _saved_count(op, xs, None) == 0


@pytest.mark.parametrize("op", OPS)
def test_weight_gradient_only_when_weights_require_it(backend, device, op):
    xs, weights = _leaves(op, 3, device)
    frozen = weights.detach()
    call(op, xs, frozen).sum().backward()
    assert frozen.grad is None
    assert all(x.grad is not None for x in xs)


def _gradients_reaching(xs, out):
    """Backpropagate a random gradient from ``out``; return it and what each input received."""
    grad = torch.randn_like(out)
    seen = []
    for x in xs:
        x.register_hook(lambda g: seen.append(g))
    out.backward(grad)
    return grad, seen


def test_sum_without_weights_returns_the_incoming_gradient_itself(backend, device):
    xs = [torch.randn(3, 4, device=device, requires_grad=True) for _ in range(3)]
    grad, seen = _gradients_reaching(xs, nasops.ops.weighted_sum(xs))
    assert len(seen) == 3 and all(g.data_ptr() == grad.data_ptr() for g in seen)


def test_concat_without_weights_returns_views_of_the_incoming_gradient(backend, device):
    xs = [torch.randn(3, 2 + i, device=device, requires_grad=True) for i in range(3)]
    grad, seen = _gradients_reaching(xs, nasops.ops.weighted_concat(xs))
    storage = grad.untyped_storage().data_ptr()
    assert len(seen) == 3 and all(g.untyped_storage().data_ptr() == storage for g in seen)


def test_gradient_of_a_zero_weight_is_the_dot_product(backend, device):
    x = [torch.full((4,), 2.0, device=device), torch.full((4,), 3.0, device=device)]
    weights = torch.tensor([0.0, 1.0], device=device, requires_grad=True)
    nasops.ops.weighted_sum(x, weights).sum().backward()
    assert weights.grad.tolist() == [8.0, 12.0]


@pytest.mark.parametrize("op", OPS)
def test_gradcheck_through_the_dispatcher(backend, device, op):
    # nasops.ops enters the autograd kernels directly; torch.ops.nasops reaches the same
    # kernels through the dispatcher's Autograd key.
    xs, weights = _leaves(op, 3, device)
    fn = getattr(torch.ops.nasops, f"weighted_{op}")
    assert torch.autograd.gradcheck(lambda *a: fn(list(a[:-1]), a[-1]), (*xs, weights))
    assert torch.autograd.gradcheck(lambda *a: fn(list(a), None), tuple(xs))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("k", [1, 3])
def test_gradgradcheck_second_order_gradients(backend, device, op, k):
    xs, weights = _leaves(op, k, device)
    fn = lambda *a: call(op, list(a[:-1]), a[-1])  # noqa: E731
    assert torch.autograd.gradgradcheck(fn, (*xs, weights))


@pytest.mark.parametrize("op", OPS)
def test_create_graph_gradients_equal_the_fused_backward(backend, device, op):
    xs, weights = _leaves(op, 3, device)
    out = call(op, xs, weights)
    g = torch.randn_like(out)
    fused = torch.autograd.grad(out, (*xs, weights), g, retain_graph=True)
    graphed = torch.autograd.grad(out, (*xs, weights), g, create_graph=True)
    assert all(torch.allclose(a, b) for a, b in zip(fused, graphed, strict=True))
    assert graphed[-1].requires_grad
