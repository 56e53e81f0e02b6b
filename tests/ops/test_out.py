"""The ``*_out`` ops behind ``out=``: the same values written into a caller's tensor, its
checks, the no-autograd rule, opcheck and torch.compile; on both backends and every device."""

import re

import pytest
import torch

import nasops
from tests.ops.samples import DTYPES, OPS, assert_close, make_op_inputs, make_weights, reference


def out_call(op, xs, weights, out, dim=1):
    if op == "concat":
        return nasops.ops.weighted_concat(xs, weights, dim, out=out)
    return getattr(nasops.ops, f"weighted_{op}")(xs, weights, out=out)


def result_shape(op, xs, dim=1):
    if op == "concat":
        return torch.cat([x.new_empty(x.shape) for x in xs], dim).shape
    return xs[0].shape


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("weights_kind", ["none", "mixed"])
def test_out_holds_the_reference_and_is_returned(backend, device, op, dtype, weights_kind):
    xs = make_op_inputs(op, 3, (4, 5), dtype, device)
    weights = make_weights(weights_kind, 3, device)
    out = torch.full(result_shape(op, xs), float("nan"), dtype=dtype, device=device)
    result = out_call(op, xs, weights, out)
    assert result is out
    assert_close(out, reference(op, xs, weights), dtype)


@pytest.mark.parametrize("op", OPS)
def test_out_matches_the_allocating_op_bit_for_bit(backend, device, op):
    xs = make_op_inputs(op, 5, (6, 7), torch.float32, device)
    weights = make_weights("mixed", 5, device)
    out = torch.empty(result_shape(op, xs), device=device)
    out_call(op, xs, weights, out)
    assert torch.equal(out, out_call(op, xs, weights, None))


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_sum_and_mean_may_write_over_an_input(backend, device, op):
    xs = make_op_inputs(op, 3, (4, 5), torch.float64, device)
    weights = make_weights("mixed", 3, device, torch.float64)
    expected = reference(op, xs, weights)
    out_call(op, xs, weights, xs[1])
    assert_close(xs[1], expected, torch.float64)


def test_a_transposed_out_gets_the_values_in_its_own_layout(backend, device):
    xs = make_op_inputs("sum", 2, (4, 5), torch.float32, device)
    out = torch.empty(5, 4, device=device).t()
    nasops.ops.weighted_sum(xs, None, out=out)
    assert out.stride() == (1, 4)
    assert_close(out, reference("sum", xs, None), torch.float32)


def _bad_outs(device):
    """(op, out, message) for inputs of two (2, 3) float32 tensors."""

    def zeros(*shape, dtype=torch.float32):
        return torch.zeros(*shape, dtype=dtype, device=device)

    shape_message = "out has shape {} but the result has shape {}"
    return [
        ("sum", zeros(3, 2), shape_message.format([3, 2], [2, 3])),
        ("concat", zeros(2, 5), shape_message.format([2, 5], [2, 6])),
        (
            "mean",
            zeros(2, 3, dtype=torch.float64),
            "out has dtype torch.float64 but the inputs have dtype torch.float32",
        ),
        (
            "sum",
            zeros(4, 6)[::2, ::2],
            "out must be dense (no gaps or overlapping elements), got strides [12, 2]",
        ),
        ("concat", zeros(6, 2).t(), "out must be contiguous, got strides [1, 2]"),
    ]


@pytest.mark.parametrize("case", range(5))
def test_bad_outs_are_rejected_naming_what_is_wrong(backend, device, case):
    op, out, message = _bad_outs(device)[case]
    xs = [torch.randn(2, 3, device=device) for _ in range(2)]
    with pytest.raises(ValueError, match="^" + re.escape(f"nasops.weighted_{op}_out: {message}")):
        out_call(op, xs, None, out)


@pytest.mark.parametrize("op", OPS)
def test_out_partly_overlapping_an_input_is_rejected(backend, device, op):
    base = torch.randn(12, device=device)
    xs = [base[:6].view(2, 3), base[6:].view(2, 3)]
    if op == "concat":
        out, allowed = base.view(2, 6), "out must not overlap any input"
    else:
        out = base[3:9].view(2, 3)
        allowed = "out may be one of the inputs but must not partly overlap any"
    with pytest.raises(ValueError, match=re.escape(f"out shares memory with xs[0]; {allowed}")):
        out_call(op, xs, None, out)


def test_out_on_another_device_is_rejected(backend):
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    xs = [torch.randn(2, 3) for _ in range(2)]
    with pytest.raises(ValueError, match="out is on device cuda:0 but the inputs are on cpu"):
        nasops.ops.weighted_sum(xs, None, out=torch.empty(2, 3, device="cuda"))


@pytest.mark.parametrize("op", OPS)
def test_out_refuses_inputs_that_require_grad(backend, device, op):
    xs = make_op_inputs(op, 2, (2, 3), torch.float32, device)
    weights = torch.rand(2, device=device, requires_grad=True)
    out = torch.empty(result_shape(op, xs), device=device)
    with pytest.raises(RuntimeError, match="out= does not support autograd"):
        out_call(op, xs, weights, out)
    with torch.no_grad():
        out_call(op, xs, weights, out)
    assert_close(out, reference(op, xs, weights.detach()), torch.float32)


@pytest.mark.parametrize("op", OPS)
def test_opcheck(backend, device, op):
    xs = make_op_inputs(op, 3, (3, 4), torch.float32, device)
    weights = make_weights("mixed", 3, device)
    out = torch.empty(result_shape(op, xs), device=device)
    fn = getattr(torch.ops.nasops, f"weighted_{op}_out").default
    args = (xs, weights, 1, out) if op == "concat" else (xs, weights, out)
    torch.library.opcheck(fn, args)


@pytest.mark.parametrize("op", OPS)
def test_compile_fullgraph(backend, device, op):
    xs = make_op_inputs(op, 3, (3, 4), torch.float32, device)
    weights = make_weights("mixed", 3, device)

    def step(xs, weights, out):
        out_call(op, xs, weights, out)
        return out * 2

    compiled = torch.compile(step, fullgraph=True, backend="aot_eager")
    out = torch.empty(result_shape(op, xs), device=device)
    doubled = compiled(xs, weights, out)
    assert_close(out, reference(op, xs, weights), torch.float32)
    assert_close(doubled, 2 * reference(op, xs, weights), torch.float32)
