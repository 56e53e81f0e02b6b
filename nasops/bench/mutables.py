"""Per-call cost of the mutables: nasops' decision path against NNI v1's reduction path.

The baseline is the very same model and decisions driven by NNI's ``_select_with_mask`` and
``_tensor_reduction``, re-implemented as NNI writes them (a Python ``if m`` per mask element,
``x * m`` per weighted branch, Python ``sum``). Every function returns a plain dict of medians
in microseconds, so ``nasops bench`` and ``benchmarks/bench_mutables.py`` report the same numbers.
"""

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasops.bench.nni_path import NNIPathReduction
from nasops.bench.timing import interleaved_medians
from nasops.mutables import InputChoice, LayerChoice
from nasops.mutator import Mutator


class FixedMasks(Mutator):
    """Decides every key with the masks it is given (``masks`` may be a callable)."""

    def __init__(self, model: nn.Module, masks: dict[str, Any] | Callable[[], dict]) -> None:
        super().__init__(model)
        self._masks = masks

    def sample_search(self) -> dict[str, Any]:
        return self._masks() if callable(self._masks) else dict(self._masks)

    def sample_final(self) -> dict[str, Any]:
        return self.sample_search()


class NNIPathMasks(NNIPathReduction, FixedMasks):
    """The baseline: the same decisions, reduced the way NNI v2.8's ``Mutator`` does."""


def interleaved_us(fns: dict[str, Callable[[], Any]], repeat: int) -> dict[str, float]:
    """Median µs per call of each function, timed round-robin (``repeat`` rounds) so that
    the machine's drift hits every path alike."""
    for fn in fns.values():
        fn()
    timings = interleaved_medians(fns, min_reps=repeat, max_reps=repeat, budget_s=0.0)
    return {name: t.median_s * 1e6 for name, t in timings.items()}


PATHS = {"direct": None, "nasops": FixedMasks, "nni_path": NNIPathMasks}


def layer_choice_case(path: str, n_candidates: int = 4) -> Callable[[], Any]:
    """One call of a hard-mask LayerChoice over small Linear layers, on ``path`` ("direct":
    the chosen layer itself, "nasops", or "nni_path")."""
    torch.manual_seed(0)
    x = torch.randn(4, 8)
    lc = LayerChoice([nn.Linear(8, 8) for _ in range(n_candidates)], key="lc")
    if PATHS[path] is None:
        return lambda: lc[1](x)
    mutator = PATHS[path](
        nn.Sequential(lc), {"lc": F.one_hot(torch.tensor(1), n_candidates).bool()}
    )
    mutator.reset()
    return lambda: lc(x)


def input_choice_case(path: str, n_candidates: int = 4, n_chosen: int = 1) -> Callable[[], Any]:
    """One call of a hard-mask InputChoice choosing ``n_chosen`` of ``n_candidates`` small
    tensors and summing them ("direct": the chosen tensor, or the sum of the chosen ones)."""
    xs = [torch.randn(4, 8) for _ in range(n_candidates)]
    chosen = list(range(0, 2 * n_chosen, 2))
    ic = InputChoice(n_candidates, n_chosen=n_chosen, key="ic")
    if PATHS[path] is None:
        if n_chosen == 1:
            return lambda: xs[chosen[0]]
        return lambda: sum(xs[i] for i in chosen[1:]) + xs[chosen[0]]
    mask = torch.zeros(n_candidates, dtype=torch.bool)
    mask[chosen] = True
    mutator = PATHS[path](nn.Sequential(ic), {"ic": mask})
    mutator.reset()
    return lambda: ic(xs)


def _overhead(case: Callable[[str], Callable], repeat: int) -> dict[str, float]:
    with torch.no_grad():
        medians = interleaved_us({p: case(p) for p in PATHS}, repeat)
    direct, ours, nni = (medians[p] for p in PATHS)
    return {
        "direct_us": direct,
        "nasops_us": ours,
        "nni_path_us": nni,
        "nasops_overhead_us": ours - direct,
        "nni_path_overhead_us": nni - direct,
        "overhead_ratio": (nni - direct) / max(ours - direct, 1e-3),
    }


def layer_choice_overhead(repeat: int = 15) -> dict[str, float]:
    """Medians (µs) of :func:`layer_choice_case` on every path, and the overheads."""
    return _overhead(layer_choice_case, repeat)


def input_choice_overhead(repeat: int = 15, n_chosen: int = 1) -> dict[str, float]:
    """Medians (µs) of :func:`input_choice_case` on every path, and the overheads."""
    return _overhead(lambda p: input_choice_case(p, n_chosen=n_chosen), repeat)


class DartsCell(nn.Module):
    """A DARTS-style cell: every node sums one LayerChoice per earlier state (InputChoice)."""

    def __init__(self, channels: int, num_nodes: int = 4) -> None:
        super().__init__()
        self.edges = nn.ModuleList()
        self.inputs = nn.ModuleList()
        for node in range(num_nodes):
            edges = nn.ModuleList(
                LayerChoice(_darts_ops(channels), key=f"n{node}_e{i}") for i in range(node + 2)
            )
            self.edges.append(edges)
            self.inputs.append(InputChoice(node + 2, key=f"n{node}_in"))

    def forward(self, s0: torch.Tensor, s1: torch.Tensor) -> torch.Tensor:
        states = [s0, s1]
        for edges, choice in zip(self.edges, self.inputs, strict=True):
            states.append(choice([op(s) for op, s in zip(edges, states, strict=False)]))
        return torch.cat(states[2:], dim=1)


def _darts_ops(channels: int) -> list[nn.Module]:
    return [
        nn.Conv2d(channels, channels, 3, padding=1, groups=channels, bias=False),
        nn.Conv2d(channels, channels, 3, padding=2, dilation=2, groups=channels, bias=False),
        nn.MaxPool2d(3, stride=1, padding=1),
        nn.AvgPool2d(3, stride=1, padding=1),
        nn.Identity(),
    ]


# (batch, channels, height and width) of the cell's states: "tiny" is overhead-bound, "darts"
# has the channels and resolution of the first cells of DARTS' CIFAR-10 search (batch 8).
CELL_SHAPES = {"tiny": (4, 8, 8, 8), "darts": (8, 16, 32, 32)}


def darts_cell_case(path: str, shape: str = "tiny") -> Callable:
    """One DARTS search step (reset with softmax weights, forward, backward) of a cell on
    ``path`` ("nasops" or "nni_path"), with states of :data:`CELL_SHAPES` ``[shape]``."""
    torch.manual_seed(0)
    batch, channels, height, width = CELL_SHAPES[shape]
    s0 = torch.randn(batch, channels, height, width)
    s1 = torch.randn(batch, channels, height, width)
    cell = DartsCell(channels)
    alpha = {lc.key: torch.randn(6, requires_grad=True) for edges in cell.edges for lc in edges}

    def masks() -> dict:
        # DARTS: softmax over the candidates plus an implicit "zero" op, which is dropped.
        decided = {k: F.softmax(a, -1)[:-1] for k, a in alpha.items()}
        decided.update({c.key: torch.ones(c.n_candidates, dtype=torch.bool) for c in cell.inputs})
        return decided

    mutator = PATHS[path](cell, masks)

    def step() -> None:
        mutator.reset()
        cell(s0, s1).sum().backward()

    return step


def darts_cell_step(shape: str = "tiny", repeat: int = 11) -> dict[str, float]:
    """Medians (µs) of :func:`darts_cell_case` on both paths, and the speed-up."""
    paths = ("nasops", "nni_path")
    medians = interleaved_us({p: darts_cell_case(p, shape) for p in paths}, repeat)
    ours, nni = medians["nasops"], medians["nni_path"]
    return {"nasops_us": ours, "nni_path_us": nni, "speedup": nni / ours}


def run_level(context: Any) -> list[dict[str, Any]]:
    """The rows of the ``mutables`` level of ``nasops bench``: call overheads (no grad, small
    tensors) and DARTS cell steps, each against NNI's path measured in the same run.

    ``nni_path / nasops`` is the overhead ratio for a call and the speed-up for a step.
    """
    repeat = context.max_reps or (7 if context.quick else 15)
    calls = {
        "LayerChoice, 1 of 4": lambda: layer_choice_overhead(repeat),
        "InputChoice, 1 of 4": lambda: input_choice_overhead(repeat, n_chosen=1),
        "InputChoice, 2 of 4 summed": lambda: input_choice_overhead(repeat, n_chosen=2),
    }
    rows = []
    for case, measure in calls.items():
        r = measure()
        rows.append(
            {
                "case": case,
                "direct_us": r["direct_us"],
                "nasops_us": r["nasops_us"],
                "nni_path_us": r["nni_path_us"],
                "nasops_overhead_us": r["nasops_overhead_us"],
                "nni_path / nasops": r["overhead_ratio"],
            }
        )
    for shape in CELL_SHAPES:
        r = darts_cell_step(shape, repeat)
        rows.append(
            {
                "case": f"DARTS cell step, states {CELL_SHAPES[shape]}",
                "direct_us": None,
                "nasops_us": r["nasops_us"],
                "nni_path_us": r["nni_path_us"],
                "nasops_overhead_us": None,
                "nni_path / nasops": r["speedup"],
            }
        )
    return rows
