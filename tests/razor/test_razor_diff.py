"""Differentiable mutables: softmax-weighted reduction, zero-weight skipping, routes, Gumbel."""

import pytest
import torch
import torch.nn.functional as F
from razor_helpers import HostReads, Scale, scales
from torch import nn

from nasops.razor import DiffChoiceRoute, DiffMutableOP, GumbelChoiceRoute, OneHotMutableOP


def test_diff_op_is_the_softmax_weighted_sum(backend: str) -> None:
    op = DiffMutableOP(scales(1.0, 2.0, 4.0))
    alpha = nn.Parameter(torch.tensor([0.5, -1.0, 2.0]))
    x = torch.randn(4, 3)
    p = F.softmax(alpha.detach(), -1)
    expected = (p[0] * 1.0 + p[1] * 2.0 + p[2] * 4.0) * x
    torch.testing.assert_close(op(x, alpha), expected)
    torch.testing.assert_close(op(x), 7.0 * x)  # no arch param: the plain sum


def test_gradients_reach_the_arch_param_and_the_candidates(backend: str) -> None:
    op = DiffMutableOP(scales(1.0, 2.0, 4.0))
    alpha = nn.Parameter(torch.zeros(3))
    x = torch.ones(5)
    op(x, alpha).sum().backward()
    # d/dα_i Σ_j softmax(α)_j c_j·5 = 5·p_i·(c_i − Σ p_j c_j), with p = 1/3, Σ p c = 7/3
    expected = torch.tensor([1.0 - 7 / 3, 2.0 - 7 / 3, 4.0 - 7 / 3]) * 5 / 3
    torch.testing.assert_close(alpha.grad, expected)
    assert all(c.factor.grad is not None for c in op._candidates.values())


def test_bound_arch_param_equals_an_explicit_one() -> None:
    op = DiffMutableOP(scales(1.0, 2.0))
    alpha = nn.Parameter(torch.tensor([0.3, 0.1]))
    x = torch.randn(2, 2)
    explicit = op(x, alpha)
    op.set_forward_args(arch_param=alpha)
    torch.testing.assert_close(op(x), explicit)
    assert "alpha" not in dict(op.named_parameters()) and len(list(op.parameters())) == 2


def test_zero_weights_skip_their_candidates_with_one_host_read(monkeypatch, backend: str) -> None:
    op = DiffMutableOP(scales(1.0, 2.0, 4.0))
    op.compute_arch_probs = lambda a: a  # weights straight from the param, some exactly zero
    reads = HostReads(monkeypatch)
    w = nn.Parameter(torch.tensor([0.0, 0.5, 0.0]))
    x = torch.ones(3)
    out = op(x, w)
    torch.testing.assert_close(out, torch.full((3,), 1.0))
    assert [c.calls for c in op._candidates.values()] == [0, 1, 0]
    assert reads.count == 1
    out.sum().backward()
    torch.testing.assert_close(w.grad, torch.tensor([0.0, 6.0, 0.0]))


def test_fixed_diff_op_sums_the_kept_ops_unweighted(monkeypatch) -> None:
    op = DiffMutableOP(nn.ModuleDict(scales(1.0, 2.0, 4.0)))
    op.set_forward_args(nn.Parameter(torch.randn(3)))
    op.fix_chosen(["s0", "s2"])
    reads = HostReads(monkeypatch)
    x = torch.randn(3)
    torch.testing.assert_close(op(x), 5.0 * x)
    assert reads.count == 0
    assert op.dump_chosen().chosen == ["s0", "s2"] and op.choices == ["s0", "s2"]
    with pytest.raises(AttributeError, match="already fixed"):
        op.fix_chosen("s0")


def test_diff_op_sample_choice_is_the_argmax_and_threshold_is_checked() -> None:
    op = DiffMutableOP(scales(1.0, 2.0, 4.0))
    assert op.sample_choice(torch.tensor([0.1, 3.0, -1.0])) == "s1"
    with pytest.raises(ValueError, match=r"fix_threshold must be in \[0, 1\], got 1.5"):
        DiffMutableOP(scales(1.0), fix_threshold=1.5)
    with pytest.raises(ValueError, match="unknown"):
        op.fix_chosen(["s1", "bad"])
    op.fix_chosen("s2")  # once fixed, the arch param (over the original candidates) has no say
    assert op.sample_choice(torch.tensor([0.1, 3.0, -1.0])) == "s2"


def test_one_hot_op_runs_one_sampled_candidate_weighted_by_one(backend: str) -> None:
    torch.manual_seed(0)
    op = OneHotMutableOP(scales(1.0, 2.0, 4.0))
    alpha = nn.Parameter(torch.zeros(3))
    x = torch.ones(2)
    for _ in range(5):
        out = op(x, alpha)
        index = int(op.arch_weights.argmax())
        torch.testing.assert_close(out, torch.full((2,), [1.0, 2.0, 4.0][index]))
        out.sum().backward()
        assert op.arch_weights.grad[index] == pytest.approx([2.0, 4.0, 8.0][index])
    assert sum(c.calls for c in op._candidates.values()) == 5


def test_one_hot_op_fixes_itself_to_the_argmax() -> None:
    op = OneHotMutableOP({"a": Scale(1.0), "b": Scale(2.0), "c": Scale(4.0)}, fix_threshold=0.3)
    out = op(torch.ones(1), nn.Parameter(torch.tensor([0.0, 0.0, 10.0])))
    assert op.is_fixed and op.choices == ["c"] and op.current_choice == "c"
    torch.testing.assert_close(out, torch.tensor([4.0]))


def edges(n: int) -> dict[str, Scale]:
    return {f"e{i}": Scale(10.0**i) for i in range(n)}


def test_route_sums_edges_over_their_own_inputs(backend: str) -> None:
    route = DiffChoiceRoute(edges(3))
    xs = [torch.full((2,), float(i + 1)) for i in range(3)]
    torch.testing.assert_close(route(xs), torch.full((2,), 1.0 + 20.0 + 300.0))
    alpha = nn.Parameter(torch.tensor([1.0, 0.0, -1.0]))
    torch.testing.assert_close(route(xs, alpha), route(xs))  # with_arch_param=False ignores it


def test_route_with_arch_param_weights_edges_and_samples_top_k(backend: str) -> None:
    route = DiffChoiceRoute(edges(3), with_arch_param=True, num_chosen=2)
    xs = [torch.ones(2) for _ in range(3)]
    alpha = nn.Parameter(torch.tensor([1.0, 0.0, 2.0]))
    p = F.softmax(alpha.detach(), -1)
    torch.testing.assert_close(
        route(xs, alpha), (p * torch.tensor([1.0, 10.0, 100.0])).sum() * xs[0]
    )
    assert route.sample_choice(alpha) == ["e2", "e0"]
    route.fix_chosen(["e1"])
    assert route.sample_choice(alpha) == ["e1"]


def test_route_checks_the_number_of_inputs() -> None:
    route = DiffChoiceRoute(edges(3))
    with pytest.raises(ValueError, match=r"one input per edge \(3"):
        route([torch.ones(1), torch.ones(1)])
    route.fix_chosen(["e2"])
    with pytest.raises(ValueError, match="got 2"):
        route([torch.ones(1), torch.ones(1)])


def test_fixed_route_keeps_inputs_positional_over_the_original_edges() -> None:
    route = DiffChoiceRoute(edges(4))
    route.fix_chosen(["e1", "e3"])
    with pytest.raises(AttributeError, match="already fixed"):
        route.fix_chosen(["e0"])  # a failed second fix must not disturb the mapping
    xs = [torch.full((1,), float(i + 1)) for i in range(4)]
    torch.testing.assert_close(route(xs), torch.tensor([10.0 * 2 + 1000.0 * 4]))
    assert route.num_choices == 2 and route.dump_chosen().chosen == ["e1", "e3"]
    with pytest.raises(ValueError, match="list of edge names"):
        DiffChoiceRoute(edges(2)).fix_chosen("e0")


def test_hard_gumbel_route_computes_one_edge_and_grads_every_logit(
    monkeypatch, backend: str
) -> None:
    torch.manual_seed(1)
    route = GumbelChoiceRoute(edges(4), tau=1.0, hard=True, with_arch_param=True)
    alpha = nn.Parameter(torch.tensor([0.2, -0.3, 0.5, 0.0]))
    reads = HostReads(monkeypatch)
    xs = [torch.ones(3) for _ in range(4)]
    steps = 20
    for _ in range(steps):
        out = route(xs, alpha)
        assert out.unique().numel() == 1 and out[0].item() in (1.0, 10.0, 100.0, 1000.0)
        out.sum().backward()
    assert sum(e.calls for e in route._candidates.values()) == steps
    assert reads.count == steps
    assert bool((alpha.grad != 0).all())


def test_gumbel_route_takes_num_chosen_and_a_positive_temperature() -> None:
    route = GumbelChoiceRoute(edges(4), num_chosen=3)
    assert len(route.sample_choice(torch.tensor([0.0, 1.0, 2.0, 3.0]))) == 3
    route.set_temperature(0.5)
    assert route.tau == 0.5
    with pytest.raises(ValueError, match="tau must be > 0"):
        route.set_temperature(0.0)
