"""The supernets ``nasops search`` searches: a convolutional stem, a few cells (one of them a
reduction cell), global average pooling and a linear classifier, sized to the images.

The cells come in three search spaces, as the algorithms need them:

- ``darts``: DARTS cells; each node keeps two of its edges (an InputChoice with ``n_chosen=2``)
  and each edge picks one of seven operations (a LayerChoice).
- ``darts-all-edges``: the same cells with every edge kept, so only LayerChoices are searched
  (ProxylessNAS binarizes LayerChoices only; SPOS evolves LayerChoices only).
- ``enas``: ENAS micro layers; each node adds two operations, each on one earlier node.
"""

import math

import torch
from torch import nn

from nasops.ops import weighted_sum
from nasops.search_space_zoo import DartsCell, ENASMicroLayer

MAX_CELL_INPUT = 16  # the stem halves larger images until the cells see at most this many pixels
SPACES = ("darts", "darts-all-edges", "enas")


class SumOfEdges(nn.Module):
    """A DARTS node's input switch when every edge is kept: the sum of the edges."""

    def forward(self, edges: list[torch.Tensor | None]) -> torch.Tensor:
        return weighted_sum([edge for edge in edges if edge is not None])


class SearchSupernet(nn.Module):
    """Cells stacked as in NNI's ``DartsStackedCells``, for small images.

    The stem is a 3x3 convolution to ``stem_multiplier * channels`` channels; for images
    larger than ``MAX_CELL_INPUT`` pixels a side it is strided, halving them until they fit,
    and it pads an odd side by one so the reduction cell's factorized halving lines up. Cell
    ``layers // 2`` is the reduction cell (it halves the resolution and doubles the channels);
    the others are normal cells, which share one architecture (as in DARTS). ``space`` picks
    the cells (see the module's docstring).

    Args:
        in_channels: channels of the images.
        image_size: ``(height, width)`` of the images.
        n_classes: classes to tell apart.
        channels: channels of each node of the first cells.
        n_nodes: searchable nodes per cell.
        layers: cells, at least 2 (P-DARTS grows this between its stages).
        stem_multiplier: the stem's channels, as a multiple of ``channels``.
        space: one of :data:`SPACES`.
    """

    def __init__(
        self,
        in_channels: int,
        image_size: tuple[int, int],
        n_classes: int,
        channels: int = 8,
        n_nodes: int = 2,
        layers: int = 2,
        stem_multiplier: int = 2,
        space: str = "darts",
    ) -> None:
        super().__init__()
        if space not in SPACES:
            raise ValueError(f"SearchSupernet: space must be one of {SPACES}, got {space!r}")
        if layers < 2:
            raise ValueError(
                f"SearchSupernet: layers must be >= 2 (a normal and a reduction cell), got {layers}"
            )
        self.stem = _stem(in_channels, stem_multiplier * channels, image_size)
        channels_pp = channels_p = stem_multiplier * channels
        cell_channels = channels
        reduction = False
        self.cells = nn.ModuleList()
        for index in range(layers):
            reduction_p, reduction = reduction, index == layers // 2
            if reduction:
                cell_channels *= 2
            if space == "enas":
                cell: nn.Module = ENASMicroLayer(
                    n_nodes, channels_pp, channels_p, cell_channels, reduction
                )
                # A reduction layer hands on its halved ``prev``, at the layer's channels.
                channels_pp = cell_channels if reduction else channels_p
                channels_p = cell_channels
            else:
                cell = DartsCell(
                    n_nodes, channels_pp, channels_p, cell_channels, reduction_p, reduction
                )
                if space == "darts-all-edges":
                    for node in cell.mutable_ops:
                        node.input_switch = SumOfEdges()
                channels_pp, channels_p = channels_p, n_nodes * cell_channels
            self.cells.append(cell)
        self.enas = space == "enas"
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels_p, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pprev = prev = self.stem(x)
        for cell in self.cells:
            # An ENAS layer returns both inputs of the next (its ``prev`` halved when reducing).
            pprev, prev = cell(pprev, prev) if self.enas else (prev, cell(pprev, prev))
        return self.classifier(self.pool(prev).flatten(1))


def _stem(in_channels: int, out_channels: int, image_size: tuple[int, int]) -> nn.Sequential:
    height, width = image_size
    halvings = max(0, math.ceil(math.log2(max(height, width) / MAX_CELL_INPUT)))
    layers: list[nn.Module] = []
    channels = in_channels
    for _ in range(halvings):
        layers += [
            nn.Conv2d(channels, out_channels, 3, 2, 1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(),
        ]
        channels = out_channels
        height, width = (height + 1) // 2, (width + 1) // 2
    layers += [nn.Conv2d(channels, out_channels, 3, 1, 1, bias=False), nn.BatchNorm2d(out_channels)]
    if height % 2 or width % 2:
        layers.append(nn.ZeroPad2d((0, width % 2, 0, height % 2)))
    return nn.Sequential(*layers)
