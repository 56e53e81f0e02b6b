"""The ops against a float64 reference: every op, dtype, K, weight kind and backend."""

import pytest
import torch

from tests.ops.samples import (
    DTYPES,
    OPS,
    WEIGHT_KINDS,
    assert_close,
    call,
    make_inputs,
    make_op_inputs,
    make_weights,
    reference,
    tensor,
)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", range(1, 10))
@pytest.mark.parametrize("kind", WEIGHT_KINDS)
def test_matches_float64_reference(backend, device, op, dtype, k, kind):
    xs = make_op_inputs(op, k, (3, 5, 7), dtype, device)
    weights = make_weights(kind, k, device)
    out = call(op, xs, weights)
    assert out.dtype == dtype and out.device.type == device
    assert_close(out, reference(op, xs, weights), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_small_cases_written_out(backend, device, dtype):
    a = tensor([[1.0, 2.0], [3.0, 4.0]], dtype, device)
    b = tensor([[10.0, 20.0], [30.0, 40.0]], dtype, device)
    w = tensor([2.0, -0.5], torch.float32, device)
    import nasops

    sum_ = nasops.ops.weighted_sum([a, b], w)
    assert sum_.tolist() == [[-3.0, -6.0], [-9.0, -12.0]]
    assert nasops.ops.weighted_sum([a, b]).tolist() == [[11.0, 22.0], [33.0, 44.0]]
    assert nasops.ops.weighted_mean([a, b], w).tolist() == [[-1.5, -3.0], [-4.5, -6.0]]
    assert nasops.ops.weighted_concat([a, b], w, dim=0).tolist() == [
        [2.0, 4.0],
        [6.0, 8.0],
        [-5.0, -10.0],
        [-15.0, -20.0],
    ]
    assert nasops.ops.weighted_concat([a, b], None, dim=-1).tolist() == [
        [1.0, 2.0, 10.0, 20.0],
        [3.0, 4.0, 30.0, 40.0],
    ]


@pytest.mark.parametrize("weights_dtype", [torch.float64, torch.float16, torch.bfloat16])
@pytest.mark.parametrize("op", OPS)
def test_weights_of_another_float_dtype(backend, device, op, weights_dtype):
    xs = make_op_inputs(op, 3, (4, 6), torch.float32, device)
    weights = make_weights("mixed", 3, device, weights_dtype)
    assert_close(call(op, xs, weights), reference(op, xs, weights), torch.float32)


@pytest.mark.parametrize("dim", [0, 1, 2, -1, -3])
def test_concat_any_dim(backend, device, dim):
    xs = make_inputs(4, (2, 3, 4), torch.float64, device, dim=dim % 3)
    weights = make_weights("mixed", 4, device)
    assert_close(
        call("concat", xs, weights, dim), reference("concat", xs, weights, dim), torch.float64
    )


def test_concat_with_an_empty_piece(backend, device):
    xs = [
        torch.randn(2, 3, device=device),
        torch.randn(2, 0, device=device),
        torch.randn(2, 1, device=device),
    ]
    weights = torch.tensor([1.0, 2.0, 3.0], device=device)
    assert_close(call("concat", xs, weights), reference("concat", xs, weights), torch.float32)


@pytest.mark.parametrize("op", OPS)
def test_large_inputs_span_many_threads_and_chunks(backend, device, op):
    xs = make_op_inputs(op, 3, (5, 70001), torch.float32, device, dim=0)
    weights = make_weights("mixed", 3, device)
    assert_close(call(op, xs, weights, dim=0), reference(op, xs, weights, dim=0), torch.float32)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_half_types_accumulate_in_float32(backend, device, op):
    # 128 terms of 1/128 = 1 exactly in float32; a float16 running sum stalls well below it
    # once the spacing near the running sum outgrows the increments.
    k = 128
    xs = [torch.full((64,), 1.0 / 128, dtype=torch.float16, device=device) for _ in range(k)]
    xs[0] = torch.full((64,), 64.0, dtype=torch.float16, device=device)
    out = call(op, xs, None)
    expected = (64.0 + 127 / 128) / (k if op == "mean" else 1)
    assert_close(out, torch.full((64,), expected, dtype=torch.float64), torch.float16)


def test_output_never_aliases_an_input(backend, device):
    import nasops

    x = torch.randn(4, 4, device=device)
    out = nasops.ops.weighted_sum([x])
    assert out.data_ptr() != x.data_ptr()
    torch.testing.assert_close(out, x)


@pytest.mark.parametrize("op", OPS)
def test_strided_weights(backend, device, op):
    xs = make_op_inputs(op, 3, (4, 5), torch.float32, device)
    weights = torch.tensor([0.5, 9.0, -2.0, 9.0, 3.0], device=device)[::2]
    assert not weights.is_contiguous()
    assert_close(call(op, xs, weights), reference(op, xs, weights), torch.float32)
