"""Search spaces for the ENAS tests: NNI's probe space of two scoped cells (its anchors are the
oracle's ``['', 'c0', 'c1']``) and a counter of the controller's LSTM steps."""

import torch
from torch import nn

from nasops.mutables import InputChoice, LayerChoice, MutableScope


class ProbeCell(MutableScope):
    """A scope keyed ``key``: an InputChoice ``<key>_in`` over ``prev``, then a LayerChoice
    ``<key>_op`` of three candidates."""

    def __init__(self, key: str, prev: list[str], n_chosen: int | None = 1) -> None:
        super().__init__(key)
        self.op = LayerChoice(
            [nn.Conv2d(4, 4, 3, padding=1), nn.MaxPool2d(3, 1, 1), nn.Identity()], key=key + "_op"
        )
        self.inp = InputChoice(choose_from=prev, n_chosen=n_chosen, key=key + "_in")

    def forward(self, xs: list[torch.Tensor]) -> torch.Tensor:
        return self.op(self.inp(xs))


class ProbeNet(nn.Module):
    """NNI's ENAS probe: cells "c0" (inputs from ``["", ""]``) and "c1" (from ``["", "c0"]``),
    then the any-number InputChoice "skip" over their outputs; a scalar output.

    Tree (pre-order): c0, c0_op, c0_in, c1, c1_op, c1_in, skip. The controller steps once per
    LayerChoice (2) and once for the label "" (first needed by c0_in): 3 steps, plus one per
    scope (2) with ``cell_exit_extra_step``.
    """

    LSTM_STEPS = 3
    SCOPES = 2

    def __init__(self, n_chosen: int | None = 1) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, 4, 1)
        self.c0 = ProbeCell("c0", ["", ""], n_chosen)
        self.c1 = ProbeCell("c1", ["", "c0"], n_chosen)
        self.skip = InputChoice(n_candidates=2, key="skip")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        a = self.c0([x, x])
        b = self.c1([x, a])
        y = self.skip([a, b])
        return (b if y is None else y).mean()


class StepCounter:
    """Counts the controller's LSTM steps (calls of ``mutator.lstm``)."""

    def __init__(self, mutator: nn.Module) -> None:
        self.steps = 0
        mutator.lstm.register_forward_hook(self._count)

    def _count(self, *_: object) -> None:
        self.steps += 1
