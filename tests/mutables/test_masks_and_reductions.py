"""Masks (§3.7, fix 1), the 0/1/≥2-selected reduction rules (§3.8–3.9, fix 4), and the
speed contract: unselected candidates never run, forward never reads a mask on the host."""

import numpy as np
import pytest
import torch
from spaces import CountingOp, MaskMutator
from torch import nn

from nasops.mutables import InputChoice, LayerChoice

FACTORS = (1.0, 2.0, 3.0)


def _layer_choice(mask: object, reduction: str = "sum", **kwargs: object):
    ops = [CountingOp(f) for f in FACTORS]
    lc = LayerChoice(ops, reduction=reduction, key="lc", **kwargs)
    mutator = MaskMutator(nn.Sequential(lc), {"lc": mask})
    mutator.reset()
    return lc, ops, mutator


def _input_choice(mask: object, reduction: str = "sum"):
    ic = InputChoice(3, reduction=reduction, key="ic")
    mutator = MaskMutator(nn.Sequential(ic), {"ic": mask})
    mutator.reset()
    return ic, mutator


def _inputs() -> list[torch.Tensor]:
    return [torch.full((1, 2), f) for f in FACTORS]


# Expected results with candidates/inputs 1, 2, 3 (as (1, 2) tensors), written out by hand.
CASES = [
    # mask, reduction, expected: a number (every element), None, a list of numbers, or columns
    ([False, False, False], "sum", None),
    ([False, False, False], "none", []),
    ([False, True, False], "sum", 2.0),
    ([False, True, False], "concat", 2.0),
    ([False, True, False], "max", 2.0),  # one selected: even an unknown reduction passes
    ([False, True, False], "none", [2.0]),
    ([True, False, True], "sum", 4.0),
    ([True, False, True], "mean", 2.0),
    ([True, False, True], "concat", [1.0, 1.0, 3.0, 3.0]),
    ([True, False, True], "none", [1.0, 3.0]),
    ([0.5, 0.0, 2.0], "mean", 3.25),  # divides by the 2 non-zero weights, not by Σw
    ([0.5, 0.0, 2.0], "sum", 6.5),
    ([0.5, 0.0, 2.0], "concat", [0.5, 0.5, 6.0, 6.0]),
    ([0.5, 0.0, 2.0], "none", [0.5, 6.0]),
    ([0.0, 0.25, 0.0], "sum", 0.5),  # one selected, float mask: times its weight
    ([0.0, 0.0, 0.0], "mean", None),
    ([-1.0, 0.0, 0.0], "sum", -1.0),  # negative weights run
]


def _check(out: object, expected: object) -> None:
    if expected is None:
        assert out is None
    elif isinstance(expected, float):
        assert out.shape == (1, 2) and out.tolist() == [[expected] * 2]
    elif torch.is_tensor(out):
        assert out.tolist() == [expected]
    else:
        assert [t.tolist() for t in out] == [[[v] * 2] for v in expected]


@pytest.mark.parametrize(("mask", "reduction", "expected"), CASES)
def test_layer_choice_reductions(
    mask: list, reduction: str, expected: object, backend: str
) -> None:
    lc, ops, _ = _layer_choice(torch.tensor(mask), reduction)
    _check(lc(torch.ones(1, 2)), expected)
    assert [op.calls for op in ops] == [int(m != 0) for m in mask]


@pytest.mark.parametrize(("mask", "reduction", "expected"), CASES)
def test_input_choice_reductions(
    mask: list, reduction: str, expected: object, backend: str
) -> None:
    ic, _ = _input_choice(torch.tensor(mask), reduction)
    _check(ic(_inputs()), expected)


def test_single_selected_hard_mask_returns_the_output_itself() -> None:
    ic, _ = _input_choice(torch.tensor([False, True, False]), "concat")
    inputs = _inputs()
    assert ic(inputs) is inputs[1]


def test_unknown_reduction_fails_only_with_two_selected() -> None:
    lc, _, _ = _layer_choice(torch.tensor([True, True, False]), "max")
    with pytest.raises(ValueError, match=r'^Unrecognized reduction policy: "max"$'):
        lc(torch.ones(1, 2))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.float16, torch.bfloat16])
def test_float_masks_of_any_dtype_weight_and_receive_gradients(
    dtype: torch.dtype, backend: str
) -> None:
    alpha = torch.tensor([0.5, 0.0, 2.0], dtype=dtype, requires_grad=True)
    lc, ops, _ = _layer_choice(alpha * 1)
    x = torch.ones(1, 2, requires_grad=True)
    out = lc(x)
    assert out.tolist() == [[6.5, 6.5]] and [op.calls for op in ops] == [1, 0, 1]
    out.sum().backward()
    # d out / d alpha_i = Σ candidate_i(x) = 2·factor_i; the skipped candidate gets 0.
    assert alpha.grad.tolist() == [2.0, 0.0, 6.0]
    assert x.grad.tolist() == [[6.5, 6.5]]


@pytest.mark.parametrize(
    "mask",
    [
        [True, False, True],
        np.array([True, False, True]),
        [0.5, 0.0, 2.0],
        np.array([0.5, 0.0, 2.0]),
    ],
    ids=["bool-list", "bool-array", "float-list", "float-array"],
)
def test_list_and_array_masks(mask: object) -> None:
    lc, ops, _ = _layer_choice(mask, return_mask=True)
    out, returned = lc(torch.ones(1, 2))
    expected = 4.0 if isinstance(mask[0], (bool, np.bool_)) else 6.5
    assert out.tolist() == [[expected] * 2] and [op.calls for op in ops] == [1, 0, 1]
    assert torch.is_tensor(returned) and returned.tolist() == list(mask)


@pytest.mark.parametrize(
    "mask",
    [
        torch.tensor([1, 0, 1]),
        torch.tensor([1, 0, 1], dtype=torch.uint8),
        [1, 0, 1],
        np.array([1, 0, 1]),
        [True, 0.5, 1],
        torch.ones(1, 3, dtype=torch.bool),
        "101",
    ],
    ids=["int64", "uint8", "int-list", "int-array", "mixed-list", "2-d", "str"],
)
def test_other_masks_are_refused_before_any_candidate_runs(mask: object) -> None:
    lc, ops, _ = _layer_choice(mask)
    with pytest.raises(ValueError, match=r"^Unrecognized mask .* accepted are a 1-D bool tensor"):
        lc(torch.ones(1, 2))
    assert [op.calls for op in ops] == [0, 0, 0]


def test_mask_changed_after_reset_is_honoured() -> None:
    mask = torch.tensor([True, False, False])
    lc, _, mutator = _layer_choice(mask)
    assert lc(torch.ones(1, 2)).tolist() == [[1.0, 1.0]]
    mask[2] = True  # in place: the prepared decision must not be reused
    assert lc(torch.ones(1, 2)).tolist() == [[4.0, 4.0]]
    mutator._cache["lc"] = [False, True, False]  # replaced without reset(), as NNI allows
    assert lc(torch.ones(1, 2)).tolist() == [[2.0, 2.0]]


def test_connect_all_runs_everything_and_mean_averages(backend: str) -> None:
    lc, ops, mutator = _layer_choice(torch.tensor([True, False, False]), "mean", return_mask=True)
    ic, ic_mutator = _input_choice(torch.tensor([False, False, False]), "concat")
    mutator._connect_all = ic_mutator._connect_all = True
    out, mask = lc(torch.ones(1, 2))
    assert out.tolist() == [[2.0, 2.0]] and mask.tolist() == [True] * 3
    assert [op.calls for op in ops] == [1, 1, 1]
    assert ic(_inputs()).tolist() == [[1.0, 1.0, 2.0, 2.0, 3.0, 3.0]]
    assert mutator._all_connect_tensor_reduction("max", _inputs()).tolist() == [[6.0, 6.0]]


def test_nni_helpers_select_and_reduce() -> None:
    _, _, mutator = _layer_choice([True, False, False])
    out, mask = mutator._select_with_mask(
        lambda x: x * 2, [(t,) for t in _inputs()], [0.5, 0.0, 1.0]
    )
    assert [t.tolist() for t in out] == [[[1.0, 1.0]], [[6.0, 6.0]]] and mask.tolist() == [
        0.5,
        0.0,
        1.0,
    ]
    assert mutator._tensor_reduction("mean", out).tolist() == [[3.5, 3.5]]
    assert mutator._tensor_reduction("sum", []) is None


@pytest.fixture
def no_host_reads(monkeypatch: pytest.MonkeyPatch):
    """Make every way of reading a tensor element on the host raise."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("forward read a tensor on the host")

    def arm() -> None:
        for name in ("__bool__", "item", "tolist", "__index__", "__int__", "__float__", "numpy"):
            monkeypatch.setattr(torch.Tensor, name, refuse)

    return arm


@pytest.mark.parametrize("reduction", ["sum", "mean", "concat", "none"])
def test_forward_never_reads_a_mask_on_the_host(
    no_host_reads, reduction: str, backend: str
) -> None:
    lc, ops, _ = _layer_choice(torch.tensor([0.5, 0.0, 2.0], requires_grad=True), reduction)
    ic, _ = _input_choice(torch.tensor([True, False, True]), reduction)
    inputs, x = _inputs(), torch.ones(1, 2)
    no_host_reads()
    for _ in range(2):
        lc(x)
        ic(inputs)
    assert [op.calls for op in ops] == [2, 0, 2]


def test_host_read_guard_catches_a_host_read(no_host_reads) -> None:
    mask = torch.tensor([True, False])
    no_host_reads()
    with pytest.raises(AssertionError, match="forward read a tensor on the host"):
        [m for m in mask if m]  # what NNI's _select_with_mask does per forward
