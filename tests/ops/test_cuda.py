"""CUDA kernels against the CPU kernels, on the cases only a GPU build has: packed and scalar
paths, K beyond the compile-time and by-value capacities, device mixes, streams and graphs.

Every test needs a CUDA device and skips without one; those comparing against the compiled
CUDA kernels also skip when this build has none (CUDA then runs the fallback).
"""

import pytest
import torch

import nasops
from tests.ops.samples import DTYPES, OPS, call, make_op_inputs, make_weights

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")

# 1..8 hit the compile-time kernels, 9 and 17 the generic one, 33, 40 and 64 several
# launches of kMaxInputs (32) pointers each.
KS = (1, 2, 3, 5, 8, 9, 17, 33, 40, 64)
ops = torch.ops.nasops


@pytest.fixture
def compiled_cuda():
    if nasops.extension_info()["kernels"]["cuda"] != "compiled":
        pytest.skip("this build has no CUDA kernels: CUDA runs the fallback")


def on_cpu(ts):
    return [t.detach().cpu() for t in ts]


def forward(op, xs, weights, dim=1):
    if op == "concat":
        return ops.weighted_concat(xs, weights, dim)
    return getattr(ops, f"weighted_{op}")(xs, weights)


def backward(op, grad, xs, weights, input_grads, weight_grad, dim=1):
    """The backward op for `op`, the way autograd calls it."""
    saved = xs if weight_grad else []
    if op == "concat":
        sizes = [x.shape[dim] for x in xs]
        return ops.weighted_concat_backward(
            grad, saved, weights, dim, sizes, input_grads, weight_grad
        )
    scale = 1.0 / len(xs) if op == "mean" else 1.0
    return ops.weighted_sum_backward(grad, saved, weights, scale, input_grads, weight_grad)


def assert_forward_matches_cpu(op, xs, weights, dim=1):
    out = forward(op, xs, weights, dim)
    expected = forward(op, on_cpu(xs), None if weights is None else weights.cpu(), dim)
    assert out.device.type == "cuda" and out.dtype == expected.dtype
    assert out.shape == expected.shape and out.stride() == expected.stride()
    # Same order of operations on both sides: equal up to one rounding per term.
    torch.testing.assert_close(out.cpu(), expected)


def dot_tolerance(dtype):
    # <g, x_i> is summed in another order than on the CPU: compare as sums of n products.
    return {"atol": 1e-9, "rtol": 1e-9} if dtype == torch.float64 else {"atol": 1e-3, "rtol": 1e-4}


def assert_backward_matches_cpu(op, xs, weights, input_grads=True, weight_grad=True, dim=1):
    out = forward(op, xs, weights, dim)
    gen = torch.Generator().manual_seed(1)
    grad = torch.randn(out.shape, generator=gen, dtype=torch.float64).to(out.dtype)
    grads, grad_w = backward(op, grad.cuda(), xs, weights, input_grads, weight_grad, dim)
    cpu_grads, cpu_grad_w = backward(
        op, grad, on_cpu(xs), weights.cpu(), input_grads, weight_grad, dim
    )
    assert len(grads) == len(cpu_grads) == (len(xs) if input_grads else 0)
    for g, c in zip(grads, cpu_grads, strict=True):
        assert g.shape == c.shape and g.stride() == c.stride()
        torch.testing.assert_close(g.cpu(), c)
    assert grad_w.dtype == weights.dtype and grad_w.shape == cpu_grad_w.shape
    torch.testing.assert_close(grad_w.cpu(), cpu_grad_w, **dot_tolerance(xs[0].dtype))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", KS)
@pytest.mark.parametrize("weighted", [True, False])
def test_forward_matches_cpu_kernels(compiled_cuda, op, dtype, k, weighted):
    # 3·37·11 = 1221 elements: a whole number of packs for no dtype, so the tail runs too.
    xs = make_op_inputs(op, k, (3, 37, 11), dtype, "cuda")
    weights = make_weights("mixed", k, "cuda") if weighted else None
    assert_forward_matches_cpu(op, xs, weights)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("k", KS)
def test_backward_matches_cpu_kernels(compiled_cuda, op, dtype, k):
    xs = make_op_inputs(op, k, (3, 37, 11), dtype, "cuda")
    assert_backward_matches_cpu(op, xs, make_weights("mixed", k, "cuda"))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize(("input_grads", "weight_grad"), [(True, False), (False, True)])
def test_backward_honours_the_gradient_flags(compiled_cuda, op, input_grads, weight_grad):
    xs = make_op_inputs(op, 3, (4, 33), torch.float32, "cuda")
    weights = make_weights("mixed", 3, "cuda")
    assert_backward_matches_cpu(op, xs, weights, input_grads, weight_grad)
    out = forward(op, xs, weights)
    grads, grad_w = backward(op, torch.ones_like(out), xs, weights, input_grads, weight_grad)
    assert len(grads) == (3 if input_grads else 0)
    assert grad_w.shape == ((3,) if weight_grad else (0,))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_large_inputs_stride_over_the_grid(compiled_cuda, op, dtype):
    # More elements than resident threads, so each thread loops and every block's partial
    # counts in the weight gradient.
    xs = make_op_inputs(op, 3, (5, 1_000_003), dtype, "cuda")
    weights = make_weights("mixed", 3, "cuda")
    assert_forward_matches_cpu(op, xs, weights)
    assert_backward_matches_cpu(op, xs, weights)


def misaligned(shape, dtype, offset):
    """A view of `shape` whose data pointer is `offset` elements past a 16-byte boundary."""
    n = torch.Size(shape).numel()
    base = torch.randn(n + offset, dtype=torch.float64, device="cuda").to(dtype)
    view = base[offset:].view(shape)
    assert view.data_ptr() % 16 == offset * base.element_size() % 16
    return view


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("offsets", [(1, 1, 1), (0, 1, 0), (0, 0, 3)])
def test_misaligned_inputs(compiled_cuda, op, dtype, offsets):
    shape = (4, 6, 10)
    xs = [misaligned(shape, dtype, o) for o in offsets]
    weights = make_weights("mixed", len(xs), "cuda")
    assert_forward_matches_cpu(op, xs, weights)
    assert_backward_matches_cpu(op, xs, weights)


def test_misaligned_gradient(compiled_cuda):
    xs = make_op_inputs("sum", 3, (8, 16), torch.float32, "cuda")
    weights = make_weights("mixed", 3, "cuda")
    grad = misaligned((8, 16), torch.float32, 1)
    grads, grad_w = ops.weighted_sum_backward(grad, xs, weights, 1.0, True, True)
    cpu_grads, cpu_grad_w = ops.weighted_sum_backward(
        grad.cpu(), on_cpu(xs), weights.cpu(), 1.0, True, True
    )
    for g, c in zip(grads, cpu_grads, strict=True):
        torch.testing.assert_close(g.cpu(), c)
    torch.testing.assert_close(grad_w.cpu(), cpu_grad_w, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("dim", [0, 1, 2])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_concat_runs_that_break_packs(compiled_cuda, dim, dtype):
    # Odd sizes in and after `dim`: row lengths and slice offsets not multiples of a pack.
    xs = make_op_inputs("concat", 4, (3, 5, 7), dtype, "cuda", dim=dim)
    weights = make_weights("mixed", 4, "cuda")
    assert_forward_matches_cpu("concat", xs, weights, dim)
    assert_backward_matches_cpu("concat", xs, weights, dim=dim)


def non_contiguous(kind, dtype, seed):
    gen = torch.Generator().manual_seed(seed)
    base = torch.randn(6, 8, 10, 12, generator=gen, dtype=torch.float64).to(dtype).cuda()
    if kind == "transposed":  # dense, so the output copies the layout
        return base.transpose(1, 3)
    if kind == "channels_last":
        return base.contiguous(memory_format=torch.channels_last)
    return base[:, ::2, 1:, :5]  # strided: not dense, the output is contiguous


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("kind", ["transposed", "channels_last", "strided"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_non_contiguous_inputs(compiled_cuda, op, kind, dtype):
    xs = [non_contiguous(kind, dtype, seed) for seed in range(3)]
    weights = make_weights("mixed", 3, "cuda")
    assert_forward_matches_cpu(op, xs, weights)
    assert_backward_matches_cpu(op, xs, weights)


@pytest.mark.parametrize("op", OPS)
def test_mixed_layouts(compiled_cuda, op):
    # channels_last beside contiguous: no shared layout, so sum/mean write a contiguous output.
    xs = [non_contiguous("channels_last", torch.float32, 0), torch.randn(6, 8, 10, 12).cuda()]
    assert_forward_matches_cpu(op, xs, make_weights("mixed", 2, "cuda"))
    assert_backward_matches_cpu(op, xs, make_weights("mixed", 2, "cuda"))


@pytest.mark.parametrize("op", OPS)
def test_inputs_on_cpu_and_cuda_are_rejected(op):
    xs = [torch.randn(2, 3, device="cuda"), torch.randn(2, 3)]
    with pytest.raises(ValueError, match=r"xs\[1\] is on device cpu but xs\[0\] is on cuda"):
        call(op, xs, None)
    with pytest.raises(ValueError, match=r"xs\[1\] is on device cuda:0 but xs\[0\] is on cpu"):
        call(op, xs[::-1], None)


@pytest.mark.parametrize("op", OPS)
def test_weights_on_another_device_are_rejected(op):
    xs = [torch.randn(2, 3, device="cuda") for _ in range(2)]
    with pytest.raises(ValueError, match="weights is on device cpu but xs\\[0\\] is on cuda"):
        call(op, xs, torch.ones(2))
    cpu_xs = on_cpu(xs)
    with pytest.raises(ValueError, match="weights is on device cuda:0 but xs\\[0\\] is on cpu"):
        call(op, cpu_xs, torch.ones(2, device="cuda"))


@pytest.mark.skipif(torch.cuda.device_count() < 2, reason="needs two CUDA devices")
@pytest.mark.parametrize("op", OPS)
def test_second_device(compiled_cuda, op):
    xs = make_op_inputs(op, 3, (4, 9), torch.float32, "cuda:1")
    weights = make_weights("mixed", 3, "cuda:1")
    with torch.cuda.device(0):
        out = call(op, xs, weights)
    assert out.device == torch.device("cuda:1")
    expected = forward(op, on_cpu(xs), weights.cpu())
    torch.testing.assert_close(out.cpu(), expected)
    with pytest.raises(ValueError, match="weights is on device cuda:0 but xs\\[0\\] is on cuda:1"):
        call(op, xs, weights.to("cuda:0"))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("k", [3, 10, 33])
def test_gradcheck_float64(compiled_cuda, op, k):
    xs = [x.requires_grad_() for x in make_op_inputs(op, k, (2, 3), torch.float64, "cuda")]
    weights = make_weights("mixed", k, "cuda", torch.float64).requires_grad_()
    assert torch.autograd.gradcheck(lambda w, *xs: call(op, list(xs), w), (weights, *xs))


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("k", [3, 40])
def test_opcheck(compiled_cuda, op, k):
    xs = [x.requires_grad_() for x in make_op_inputs(op, k, (3, 4), torch.float32, "cuda")]
    weights = make_weights("mixed", k, "cuda").requires_grad_()
    fn = getattr(ops, f"weighted_{op}").default
    torch.library.opcheck(fn, (xs, weights, -1) if op == "concat" else (xs, weights))
    grad = torch.randn_like(forward(op, xs, weights))
    for input_grads, weight_grad in [(True, True), (True, False), (False, True)]:
        saved = [x.detach() for x in xs] if weight_grad else []
        if op == "concat":
            torch.library.opcheck(
                ops.weighted_concat_backward.default,
                (grad, saved, weights.detach(), 1, [x.shape[1] for x in xs],
                 input_grads, weight_grad),
            )  # fmt: skip
        else:
            torch.library.opcheck(
                ops.weighted_sum_backward.default,
                (grad, saved, weights.detach(), 0.5, input_grads, weight_grad),
            )


@pytest.mark.parametrize("op", OPS)
def test_compile_fullgraph(compiled_cuda, op):
    torch._dynamo.reset()
    xs = [x.requires_grad_() for x in make_op_inputs(op, 4, (8, 33), torch.float32, "cuda")]
    weights = make_weights("mixed", 4, "cuda").requires_grad_()

    def f(w, *xs):
        return (call(op, list(xs), w) * 2).sum()

    compiled = torch.compile(f, fullgraph=True)
    eager_grads = torch.autograd.grad(f(weights, *xs), [weights, *xs])
    compiled_grads = torch.autograd.grad(compiled(weights, *xs), [weights, *xs])
    for e, c in zip(eager_grads, compiled_grads, strict=True):
        torch.testing.assert_close(c, e)


@pytest.mark.parametrize("op", OPS)
def test_backward_is_bitwise_deterministic(compiled_cuda, op):
    xs = make_op_inputs(op, 5, (7, 300_001), torch.float32, "cuda")
    weights = make_weights("mixed", 5, "cuda")
    grad = torch.randn_like(forward(op, xs, weights))
    first = backward(op, grad, xs, weights, True, True)
    second = backward(op, grad, xs, weights, True, True)
    assert torch.equal(first[1], second[1])
    for a, b in zip(first[0], second[0], strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("k", [3, 40])
def test_capture_in_a_cuda_graph_reads_weights_on_the_device(compiled_cuda, op, k):
    # Capture fails on any host sync or any launch outside the current stream. Replaying after
    # new values are written into the inputs and weights shows the kernels read both on the
    # device at run time (nothing was copied to the host at capture).
    xs = make_op_inputs(op, k, (4, 50), torch.float32, "cuda")
    weights = make_weights("mixed", k, "cuda")
    grad = torch.randn_like(forward(op, xs, weights))
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        forward(op, xs, weights)
        backward(op, grad, xs, weights, True, True)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = forward(op, xs, weights)
        grads, grad_w = backward(op, grad, xs, weights, True, True)
    for x in xs:
        x.copy_(torch.randn_like(x))
    weights.copy_(make_weights("positive", k, "cuda"))
    graph.replay()
    torch.cuda.synchronize()
    torch.testing.assert_close(out.cpu(), forward(op, on_cpu(xs), weights.cpu()))
    cpu_grads, cpu_grad_w = backward(op, grad.cpu(), on_cpu(xs), weights.cpu(), True, True)
    for g, c in zip(grads, cpu_grads, strict=True):
        torch.testing.assert_close(g.cpu(), c)
    torch.testing.assert_close(grad_w.cpu(), cpu_grad_w, rtol=1e-4, atol=1e-4)
