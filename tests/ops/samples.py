"""Sample generators, float64 references and tolerances shared by the op tests."""

import torch

OPS = ("sum", "mean", "concat")
DTYPES = (torch.float32, torch.float64, torch.float16, torch.bfloat16)
WEIGHT_KINDS = ("none", "positive", "zero", "negative", "mixed")

# (atol, rtol) against the float64 reference, for values of order 1 and K ≤ 9.
TOLERANCES = {
    torch.float64: (1e-12, 1e-12),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (1e-2, 1e-2),
    torch.bfloat16: (6e-2, 2e-2),
}


def tensor(values, dtype: torch.dtype, device: str) -> torch.Tensor:
    return torch.tensor(values, dtype=dtype, device=device)


def make_inputs(
    k: int,
    shape: tuple[int, ...],
    dtype: torch.dtype,
    device: str,
    seed: int = 0,
    dim: int | None = None,
) -> list[torch.Tensor]:
    """K random inputs of ``shape``; with ``dim``, input i is ``i`` longer in ``dim``."""
    gen = torch.Generator().manual_seed(seed)
    xs = []
    for i in range(k):
        s = list(shape)
        if dim is not None:
            s[dim] += i
        xs.append(torch.randn(s, generator=gen, dtype=torch.float64).to(dtype=dtype, device=device))
    return xs


def make_op_inputs(
    op: str, k: int, shape: tuple[int, ...], dtype: torch.dtype, device: str, dim: int = 1
) -> list[torch.Tensor]:
    """Inputs fit for ``op``: equal shapes, or sizes differing in ``dim`` for concat."""
    return make_inputs(k, shape, dtype, device, dim=dim if op == "concat" else None)


def make_weights(kind: str, k: int, device: str, dtype: torch.dtype = torch.float32):
    if kind == "none":
        return None
    gen = torch.Generator().manual_seed(k)
    base = torch.rand(k, generator=gen, dtype=torch.float64) + 0.1
    values = {
        "positive": base,
        "zero": torch.zeros(k, dtype=torch.float64),
        "negative": -base,
        "mixed": base * torch.tensor([(-1.0) ** i for i in range(k)], dtype=torch.float64),
    }[kind]
    return values.to(dtype=dtype, device=device)


def reference(op: str, xs, weights, dim: int = 1) -> torch.Tensor:
    """The op computed term by term in float64 (differentiable in ``xs`` and ``weights``)."""
    w = [1.0] * len(xs) if weights is None else list(weights.double().unbind())
    terms = [x.double() * wi for x, wi in zip(xs, w, strict=True)]
    if op == "concat":
        return torch.cat(terms, dim)
    total = sum(terms[1:], terms[0])
    return total / len(xs) if op == "mean" else total


def call(op: str, xs, weights, dim: int = 1) -> torch.Tensor:
    """The public nasops function for ``op``."""
    import nasops

    if op == "concat":
        return nasops.ops.weighted_concat(xs, weights, dim)
    return nasops.ops.reduce(xs, weights, op)


def assert_close(actual: torch.Tensor, expected: torch.Tensor, dtype: torch.dtype) -> None:
    atol, rtol = TOLERANCES[dtype]
    torch.testing.assert_close(actual.double().cpu(), expected.double().cpu(), atol=atol, rtol=rtol)
