"""An NNI v1 classic-mode trial as NNI users write it: ``import nni``, no nasops in sight.

``nasops tune`` runs it unchanged (its shim makes ``nni`` nasops' alias). The model is one
2-choice LayerChoice and no training: the metric is the model's output on ones, so ``large``
(2.0) beats ``small`` (0.5). ``FAKE_CRASH`` / ``FAKE_SILENT`` (comma lists of trial numbers)
make a trial raise or report nothing.
"""

import os
from collections import OrderedDict

import nni
import torch
from nni.nas.pytorch.classic_nas import get_and_apply_next_architecture
from nni.nas.pytorch.mutables import LayerChoice
from torch import nn


class Scale(nn.Module):
    def __init__(self, factor: float) -> None:
        super().__init__()
        self.factor = factor

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.factor


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = LayerChoice(OrderedDict(small=Scale(0.5), large=Scale(2.0)), key="scale")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.scale(x)


def _listed(name: str) -> bool:
    return str(nni.get_sequence_id()) in os.environ.get(name, "").split(",")


model = Net()
get_and_apply_next_architecture(model)
if _listed("FAKE_CRASH"):
    raise RuntimeError(f"trial {nni.get_sequence_id()} crashed on purpose")
metric = model(torch.ones(1)).item()
nni.report_intermediate_result(metric / 2)
if not _listed("FAKE_SILENT"):
    nni.report_final_result(metric)
