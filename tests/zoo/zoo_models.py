"""Tiny networks built from the zoo cells, and the NNI key lists they must produce.

The key lists are written out from reading NNI v2.8's ``darts_cell.py`` and ``nasbench201.py``.
"""

import torch
from torch import nn

from nasops.nasbench201 import NASBench201Cell
from nasops.search_space_zoo import DartsCell

# DartsCell(n_nodes=4, ..., reduction=False), in search-space (module) order.
NORMAL_KEYS_4_NODES = [
    "normal_n2_p0",
    "normal_n2_p1",
    "normal_n2_switch",
    "normal_n3_p0",
    "normal_n3_p1",
    "normal_n3_p2",
    "normal_n3_switch",
    "normal_n4_p0",
    "normal_n4_p1",
    "normal_n4_p2",
    "normal_n4_p3",
    "normal_n4_switch",
    "normal_n5_p0",
    "normal_n5_p1",
    "normal_n5_p2",
    "normal_n5_p3",
    "normal_n5_p4",
    "normal_n5_switch",
]
REDUCE_KEYS_4_NODES = [key.replace("normal", "reduce") for key in NORMAL_KEYS_4_NODES]
DARTS_CANDIDATES = [
    "maxpool",
    "avgpool",
    "skipconnect",
    "sepconv3x3",
    "sepconv5x5",
    "dilconv3x3",
    "dilconv5x5",
]
NB201_KEYS = ["0_1", "0_2", "1_2", "0_3", "1_3", "2_3"]
NB201_CANDIDATES = ["none", "avg_pool_3x3", "conv_3x3", "conv_1x1", "skip_connect"]


class TinyDartsNet(nn.Module):
    """Stem, a normal cell, two reduction cells (as NNI's ``DartsStackedCells`` with three
    layers), global pooling and a classifier, for 3-channel images of side 8."""

    def __init__(self, channels: int = 4, n_nodes: int = 2, n_classes: int = 3) -> None:
        super().__init__()
        stem_channels = 2 * channels
        self.stem = nn.Sequential(nn.Conv2d(3, stem_channels, 3, padding=1, bias=False))
        channels_pp = channels_p = stem_channels
        self.cells = nn.ModuleList()
        reduction = False
        for reduction_now in (False, True, True):
            reduction_p, reduction = reduction, reduction_now
            channels *= 2 if reduction else 1
            self.cells.append(
                DartsCell(n_nodes, channels_pp, channels_p, channels, reduction_p, reduction)
            )
            channels_pp, channels_p = channels_p, channels * n_nodes
        self.linear = nn.Linear(channels_p, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s0 = s1 = self.stem(x)
        for cell in self.cells:
            s0, s1 = s1, cell(s0, s1)
        return self.linear(s1.mean((2, 3)))


class TinyNB201Net(nn.Module):
    """Stem, a NAS-Bench-201 cell, a second one that halves the resolution, a classifier."""

    def __init__(self, channels: int = 4, n_classes: int = 3) -> None:
        super().__init__()
        self.stem = nn.Conv2d(3, channels, 3, padding=1, bias=False)
        self.cells = nn.Sequential(
            NASBench201Cell(0, channels, channels, 1),
            NASBench201Cell(1, channels, 2 * channels, 2),
        )
        self.linear = nn.Linear(2 * channels, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(self.cells(self.stem(x)).mean((2, 3)))
