"""Every misuse raises a ValueError naming what is wrong and what is accepted, on every backend."""

import re

import pytest
import torch

import nasops

F32 = torch.float32


def _x(*shape, dtype=F32, device="cpu"):
    return torch.randn(*shape).to(dtype=dtype, device=device)


SUM_CASES = [
    ([], None, "xs must be a non-empty list of tensors, got an empty list"),
    (
        [_x(2, 3), _x(2, 3).long()],
        None,
        "xs[1] has dtype torch.int64; accepted dtypes are float32, float64, float16 and bfloat16",
    ),
    (
        [_x(2).int()],
        None,
        "xs[0] has dtype torch.int32; accepted dtypes are float32, float64, float16 and bfloat16",
    ),
    (
        [_x(2, 3), _x(2, 3), _x(2, 3, dtype=torch.float64)],
        None,
        "xs[2] has dtype torch.float64 but xs[0] has dtype torch.float32; "
        "all inputs must share one dtype",
    ),
    (
        [_x(2, 3), _x(3, 2)],
        None,
        "xs[1] has shape [3, 2] but xs[0] has shape [2, 3]; {op} needs equal shapes "
        "(no broadcasting)",
    ),
    (
        [_x(2, 3), _x(1, 3)],
        None,
        "xs[1] has shape [1, 3] but xs[0] has shape [2, 3]; {op} needs equal shapes "
        "(no broadcasting)",
    ),
    (
        [_x(2), _x(2)],
        torch.ones(2, 1),
        "weights must be 1-D with one entry per input (2), got shape [2, 1]",
    ),
    (
        [_x(2), _x(2)],
        torch.ones(3),
        "weights has 3 entries but xs has 2 inputs; weights must be 1-D with one entry per input",
    ),
    (
        [_x(2), _x(2)],
        torch.ones(2, dtype=torch.int64),
        "weights has dtype torch.int64; accepted dtypes are float32, float64, float16 and bfloat16",
    ),
    (
        [_x(2), _x(2)],
        torch.ones(2, dtype=torch.bool),
        "weights has dtype torch.bool; accepted dtypes are float32, float64, float16 and bfloat16",
    ),
]

CONCAT_CASES = [
    (
        [_x(2, 3), _x(2, 4)],
        None,
        5,
        "dim 5 is out of range for inputs with 2 dimensions; accepted is -2..1",
    ),
    (
        [_x(2, 3)],
        None,
        -3,
        "dim -3 is out of range for inputs with 2 dimensions; accepted is -2..1",
    ),
    (
        [torch.tensor(1.0)],
        None,
        0,
        "xs[0] is 0-dimensional; weighted_concat needs inputs with at least one dimension",
    ),
    (
        [_x(2, 3), _x(3, 4)],
        None,
        1,
        "xs[1] has shape [3, 4] but xs[0] has shape [2, 3]; weighted_concat needs equal shapes "
        "except in dim 1",
    ),
    (
        [_x(2, 3), _x(2, 3, 1)],
        None,
        -1,
        "xs[1] has shape [2, 3, 1] but xs[0] has shape [2, 3]; weighted_concat needs equal "
        "shapes except in dim 1",
    ),
    ([_x(2, 3), _x(2, 4)], torch.ones(1), 1, "weights has 1 entries but xs has 2 inputs"),
]


@pytest.mark.parametrize("op", ["weighted_sum", "weighted_mean"])
@pytest.mark.parametrize(("xs", "weights", "message"), SUM_CASES)
def test_sum_and_mean_reject_bad_inputs(backend, op, xs, weights, message):
    expected = f"nasops.{op}: " + message.format(op=op)
    with pytest.raises(ValueError, match=re.escape(expected)):
        getattr(nasops.ops, op)(xs, weights)


@pytest.mark.parametrize(("xs", "weights", "dim", "message"), CONCAT_CASES)
def test_concat_rejects_bad_inputs(backend, xs, weights, dim, message):
    with pytest.raises(ValueError, match=re.escape("nasops.weighted_concat: " + message)):
        nasops.ops.weighted_concat(xs, weights, dim)


@pytest.mark.parametrize("op", ["weighted_sum", "weighted_mean", "weighted_concat"])
def test_mixed_devices_are_named(backend, op):
    # A meta tensor stands in for a second device: the check must fire before any kernel runs.
    with pytest.raises(
        ValueError,
        match=re.escape(
            "xs[1] is on device meta but xs[0] is on cpu; all inputs must be on one device"
        ),
    ):
        getattr(nasops.ops, op)([_x(2, 2), _x(2, 2, device="meta")])
    with pytest.raises(
        ValueError,
        match=re.escape(
            "weights is on device meta but xs[0] is on cpu; weights must be on the inputs' device"
        ),
    ):
        getattr(nasops.ops, op)([_x(2, 2), _x(2, 2)], torch.ones(2, device="meta"))


def test_calls_through_torch_ops_are_checked_too(backend):
    with pytest.raises(ValueError, match=re.escape("nasops.weighted_sum: xs[1] has shape [3]")):
        torch.ops.nasops.weighted_sum([_x(2), _x(3)], None)


@pytest.mark.parametrize("op", ["weighted_sum", "weighted_mean", "weighted_concat"])
def test_non_tensor_arguments_raise_type_errors(op):
    fn = getattr(nasops.ops, op)
    with pytest.raises(TypeError, match=re.escape(f"nasops.{op}: xs[1] is int; expected a tensor")):
        fn([_x(2), 3])
    with pytest.raises(
        TypeError,
        match=re.escape(f"nasops.{op}: xs must be a list or tuple of tensors, got Tensor"),
    ):
        fn(_x(2, 2))


def test_backward_ops_check_their_arguments(backend):
    g = _x(2, 3)
    with pytest.raises(
        ValueError,
        match=re.escape(
            "the weight gradient needs one input per weight, got 1 inputs and 2 weights"
        ),
    ):
        torch.ops.nasops.weighted_sum_backward(g, [_x(2, 3)], torch.ones(2), 1.0, True, True)
    with pytest.raises(ValueError, match=re.escape("xs[0] must have grad's dtype torch.float32")):
        torch.ops.nasops.weighted_sum_backward(
            g, [_x(2, 3).double()], torch.ones(1), 1.0, True, True
        )


def test_unknown_reduction_is_named():
    with pytest.raises(
        ValueError,
        match=re.escape(
            "nasops.reduce: unknown reduction 'max'; accepted are ('sum', 'mean', 'concat')"
        ),
    ):
        nasops.ops.reduce([_x(2)], None, "max")


@pytest.mark.parametrize(
    ("dim", "sizes", "message"),
    [
        (1, [1, 2], "sizes has 2 entries but weights has 3"),
        (2, [1, 2, 3], "dim 2 is out of range for grad with 2 dimensions"),
        (1, [1, 2, 4], "sizes sum to 7 but grad has 6 entries in dim 1"),
        (1, [4, -1, 3], "sizes must be non-negative, got [4, -1, 3]"),
    ],
)
def test_concat_backward_rejects_inconsistent_sizes(backend, dim, sizes, message):
    # Autograd always passes consistent sizes; a direct call with wrong ones must not reach
    # memory outside the tensors.
    expected = "nasops.weighted_concat_backward: " + message
    with pytest.raises(ValueError, match=re.escape(expected)):
        torch.ops.nasops.weighted_concat_backward(
            _x(2, 6), [], torch.ones(3), dim, sizes, True, False
        )
