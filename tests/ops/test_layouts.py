"""Non-contiguous, channels_last and zero-element inputs, and the layout of the outputs."""

import pytest
import torch

from tests.ops.samples import OPS, assert_close, call, make_weights, reference


def _views(kind: str, k: int, device: str) -> list[torch.Tensor]:
    base = [torch.randn(6, 8, 5, 4, device=device, dtype=torch.float64) for _ in range(k)]
    if kind == "transposed":
        return [b.transpose(1, 3) for b in base]
    if kind == "sliced":
        return [b[:, ::2, 1:, :] for b in base]
    if kind == "expanded":
        return [b[:, :1].expand(6, 8, 5, 4) for b in base]
    if kind == "mixed":
        return [base[0], base[1].transpose(1, 3).contiguous().transpose(1, 3), base[2][:, ::1]]
    raise AssertionError(kind)


@pytest.mark.parametrize("kind", ["transposed", "sliced", "expanded", "mixed"])
@pytest.mark.parametrize("op", OPS)
def test_non_contiguous_inputs(backend, device, op, kind):
    xs = _views(kind, 3, device)
    weights = make_weights("mixed", 3, device)
    assert_close(call(op, xs, weights), reference(op, xs, weights), torch.float64)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_shared_dense_layout_is_kept(backend, device, op):
    xs = [
        torch.randn(2, 3, 4, 5, device=device).to(memory_format=torch.channels_last)
        for _ in range(3)
    ]
    out = call(op, xs, make_weights("positive", 3, device))
    assert out.stride() == xs[0].stride()
    assert_close(out, reference(op, xs, make_weights("positive", 3, device)), torch.float32)


@pytest.mark.parametrize("op", ["sum", "mean"])
def test_mixed_layouts_give_a_contiguous_output(backend, device, op):
    xs = [torch.randn(2, 3, 4, 5, device=device) for _ in range(2)]
    xs[1] = xs[1].to(memory_format=torch.channels_last)
    assert call(op, xs, None).is_contiguous()


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("shape", [(0,), (3, 0, 2), (0, 4)])
def test_zero_element_inputs(backend, device, op, shape):
    xs = [torch.randn(shape, device=device, requires_grad=True) for _ in range(3)]
    weights = make_weights("mixed", 3, device).requires_grad_()
    dim = 0 if len(shape) == 1 else 1
    out = call(op, xs, weights, dim)
    assert out.shape == reference(op, xs, weights, dim).shape
    out.sum().backward()
    assert weights.grad.tolist() == [0.0, 0.0, 0.0]
    assert all(x.grad.shape == x.shape for x in xs)
