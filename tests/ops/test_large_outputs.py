"""Outputs of 8 MiB and more, which the small test shapes never reach: there the CPU kernels map
a fresh output's pages before writing it and write it with streaming stores when it is 16-byte
aligned. Every kind of output buffer, against the float64 reference and, bit for bit, against
the same op on a small slice (which takes the ordinary path)."""

import functools
import mmap

import pytest
import torch

from tests.ops.samples import DTYPES, assert_close, call, make_op_inputs, make_weights, reference
from tests.ops.test_out import out_call, result_shape

LARGE_BYTES = 9 << 20  # above the kernels' 8 MiB threshold
TAIL = 37  # so the row length is no multiple of the kernels' tiles
ROWS = 4
OUT_KINDS = ("allocated", "resident", "fresh_mapping", "misaligned")
# The sum kernel adds its inputs in groups of four, the first taking the remainder: K ≤ 4 is
# one group, 8 is two, 10 is 2 + 4 + 4 (a middle group).
CASES = [("sum", 1), ("sum", 2), ("sum", 8), ("sum", 10), ("mean", 3), ("concat", 3)]


@functools.lru_cache(maxsize=1)  # the cases of one (op, k, dtype, device) run one after another
def large_case(op: str, k: int, dtype: torch.dtype, device: str):
    """Inputs with an output of ``LARGE_BYTES``, the weights and the float64 reference."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    cols = LARGE_BYTES // (itemsize * ROWS * (k if op == "concat" else 1)) + TAIL
    xs = make_op_inputs(op, k, (ROWS, cols), dtype, device)
    weights = make_weights("mixed", k, device)
    return xs, weights, reference(op, xs, weights)


def fresh_mapping(shape: torch.Size, dtype: torch.dtype, offset: int) -> torch.Tensor:
    """A tensor on anonymous memory no one has touched yet, starting ``offset`` elements in."""
    itemsize = torch.empty((), dtype=dtype).element_size()
    numel = shape.numel()
    buffer = mmap.mmap(-1, (numel + offset) * itemsize)
    flat = torch.frombuffer(buffer, dtype=dtype, count=numel, offset=offset * itemsize)
    return flat.view(shape)


def run(op: str, xs, weights, out_kind: str, device: str) -> torch.Tensor:
    if out_kind == "allocated":
        return call(op, xs, weights)
    shape = result_shape(op, xs)
    if out_kind == "resident" or device != "cpu":
        out = torch.full(shape, float("nan"), dtype=xs[0].dtype, device=device)
    else:
        out = fresh_mapping(shape, xs[0].dtype, offset=1 if out_kind == "misaligned" else 0)
    assert out_call(op, xs, weights, out) is out
    return out


@pytest.mark.parametrize("out_kind", OUT_KINDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("op", "k"), CASES)
def test_large_output_matches_the_reference(backend, device, op, k, dtype, out_kind):
    xs, weights, expected = large_case(op, k, dtype, device)
    out = run(op, xs, weights, out_kind, device)
    assert_close(out, expected, dtype)
    if op != "concat":
        head = call(op, [x[:, :100] for x in xs], weights)
        assert torch.equal(out[:, :100], head)
