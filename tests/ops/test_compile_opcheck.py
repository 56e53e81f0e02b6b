"""torch.library.opcheck on every op, and torch.compile(fullgraph=True) against eager."""

import pytest
import torch

from tests.ops.samples import OPS, assert_close, call, make_op_inputs, make_weights

OPCHECK_DTYPES = (torch.float32, torch.float64, torch.bfloat16)


def _op_args(op, k, device, dtype, weighted, requires_grad):
    xs = make_op_inputs(op, k, (3, 4), dtype, device)
    weights = make_weights("mixed", k, device) if weighted else None
    if requires_grad:
        xs = [x.requires_grad_() for x in xs]
        weights = weights.requires_grad_() if weights is not None else None
    return xs, weights


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", OPCHECK_DTYPES)
@pytest.mark.parametrize("weighted", [True, False])
@pytest.mark.parametrize("requires_grad", [True, False])
def test_opcheck_forward(backend, device, op, dtype, weighted, requires_grad):
    xs, weights = _op_args(op, 3, device, dtype, weighted, requires_grad)
    fn = getattr(torch.ops.nasops, f"weighted_{op}").default
    args = (xs, weights, -1) if op == "concat" else (xs, weights)
    torch.library.opcheck(fn, args)


@pytest.mark.parametrize("input_grads", [True, False])
@pytest.mark.parametrize("weight_grad", [True, False])
def test_opcheck_backward_ops(backend, device, input_grads, weight_grad):
    xs = [torch.randn(3, 4, device=device) for _ in range(3)]
    weights = torch.rand(3, device=device)
    saved = xs if weight_grad else []
    torch.library.opcheck(
        torch.ops.nasops.weighted_sum_backward.default,
        (torch.randn(3, 4, device=device), saved, weights, 0.5, input_grads, weight_grad),
    )
    pieces = [torch.randn(3, 1 + i, device=device) for i in range(3)]
    torch.library.opcheck(
        torch.ops.nasops.weighted_concat_backward.default,
        (
            torch.randn(3, 6, device=device),
            pieces if weight_grad else [],
            weights,
            1,
            [1, 2, 3],
            input_grads,
            weight_grad,
        ),
    )


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dynamic", [False, True])
def test_compile_fullgraph_matches_eager(backend, device, op, dynamic):
    torch._dynamo.reset()
    xs, weights = _op_args(op, 3, device, torch.float32, True, True)

    def step(xs, weights):
        return (call(op, xs, weights).sin() * 2).sum()

    compiled = torch.compile(step, fullgraph=True, dynamic=dynamic)
    eager_grads = torch.autograd.grad(step(xs, weights), [*xs, weights])
    compiled_out = compiled(xs, weights)
    compiled_grads = torch.autograd.grad(compiled_out, [*xs, weights])
    assert_close(compiled_out, step(xs, weights), torch.float32)
    for c, e in zip(compiled_grads, eager_grads, strict=True):
        assert_close(c, e, torch.float32)
