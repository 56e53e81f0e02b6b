"""Same inputs, same bits: forward and backward are deterministic for a given thread count."""

import pytest
import torch

from tests.ops.samples import OPS, call, make_op_inputs


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_forward_and_backward_repeat_bit_for_bit(backend, device, op, dtype):
    xs = [x.requires_grad_() for x in make_op_inputs(op, 5, (3, 40000), dtype, device)]
    weights = torch.rand(5, device=device, requires_grad=True)
    grad = torch.randn_like(call(op, xs, weights))

    def run():
        out = call(op, xs, weights)
        return (out, *torch.autograd.grad(out, [*xs, weights], grad))

    first, second = run(), run()
    for a, b in zip(first, second, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_weight_gradient_of_half_inputs_accumulates_in_float32(backend, device, op):
    # <g, x> over 16384 products of 1/64: 256 exactly. A float16 running sum stops growing
    # at 32 + ... long before, since 1/64 falls below half its spacing past 16.
    n = 16384
    xs = [torch.full((n,), 0.125, dtype=torch.float16, device=device) for _ in range(2)]
    weights = torch.ones(2, dtype=torch.float32, device=device, requires_grad=True)
    out = call(op, xs, weights)
    out.backward(torch.full_like(out, 0.125))
    expected = 256.0 / (2 if op == "mean" else 1)
    assert weights.grad.tolist() == [expected, expected]
