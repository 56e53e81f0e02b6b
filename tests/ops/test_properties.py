"""Property tests: random shapes, dtypes, K, weights and dims against the float64 reference."""

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import nasops
from nasops.ops import _fallback
from tests.ops.samples import DTYPES, OPS, assert_close, call, reference

shapes = st.lists(st.integers(min_value=0, max_value=6), min_size=1, max_size=4)
weights_values = st.floats(min_value=-4, max_value=4, allow_nan=False, width=32)


@st.composite
def problems(draw):
    op = draw(st.sampled_from(OPS))
    dtype = draw(st.sampled_from(DTYPES))
    shape = draw(shapes)
    k = draw(st.integers(min_value=1, max_value=9))
    dim = draw(st.integers(min_value=-len(shape), max_value=len(shape) - 1))
    seed = draw(st.integers(min_value=0, max_value=2**31 - 1))
    gen = torch.Generator().manual_seed(seed)
    xs = []
    for _ in range(k):
        s = list(shape)
        if op == "concat":
            s[dim] = draw(st.integers(min_value=0, max_value=5))
        xs.append(torch.randn(s, generator=gen, dtype=torch.float64).to(dtype))
    weighted = draw(st.booleans())
    weights = (
        torch.tensor(draw(st.lists(weights_values, min_size=k, max_size=k))) if weighted else None
    )
    if draw(st.booleans()) and len(shape) > 1:
        xs = [x.transpose(0, -1) for x in xs]
        dim = {0: -1, -1: 0, len(shape) - 1: 0, -len(shape): -1}.get(dim, dim)
    return op, xs, weights, dim, dtype


@settings(max_examples=150, deadline=None)
@given(problem=problems())
def test_random_problems_match_the_reference(problem):
    op, xs, weights, dim, dtype = problem
    out = call(op, xs, weights, dim)
    expected = reference(op, xs, weights, dim)
    assert out.shape == expected.shape and out.dtype == dtype
    atol, rtol = {torch.float16: (4e-2, 1e-2), torch.bfloat16: (3e-1, 3e-2)}.get(
        dtype, (1e-5, 1e-5)
    )
    torch.testing.assert_close(out.double(), expected, atol=atol, rtol=rtol)


@pytest.mark.skipif(not nasops.has_extension(), reason="needs the compiled kernels")
@settings(max_examples=60, deadline=None)
@given(problem=problems())
def test_random_problems_compiled_equals_fallback_with_the_same_layout(problem):
    op, xs, weights, dim, dtype = problem
    fallback = {"sum": _fallback.weighted_sum, "mean": _fallback.weighted_mean}
    expected = (
        _fallback.weighted_concat(xs, weights, dim) if op == "concat" else fallback[op](xs, weights)
    )
    out = call(op, xs, weights, dim)
    assert out.shape == expected.shape
    if out.numel() > 1:
        assert out.stride() == expected.stride()
    assert_close(out, expected, dtype)
