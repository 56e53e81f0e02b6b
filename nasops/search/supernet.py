"""The supernet ``nasops search`` searches: a convolutional stem, a few DARTS cells (one of them a
reduction cell), global average pooling and a linear classifier, sized to the images.
"""

import math

import torch
from torch import nn

from nasops.search_space_zoo import DartsCell

MAX_CELL_INPUT = 16  # the stem halves larger images until the cells see at most this many pixels


class SearchSupernet(nn.Module):
    """DARTS cells stacked as in NNI's ``DartsStackedCells``, for small images.

    The stem is a 3x3 convolution to ``stem_multiplier * channels`` channels; for images
    larger than ``MAX_CELL_INPUT`` pixels a side it is strided, halving them until they fit,
    and it pads an odd side by one so the reduction cell's factorized halving lines up. Cell
    ``layers // 2`` is the reduction cell (it halves the resolution and doubles the channels);
    the others are normal cells, which share one architecture (as in DARTS).

    Args:
        in_channels: channels of the images.
        image_size: ``(height, width)`` of the images.
        n_classes: classes to tell apart.
        channels: channels of each node of the first cells.
        n_nodes: searchable nodes per cell.
        layers: cells, at least 2 (P-DARTS grows this between its stages).
        stem_multiplier: the stem's channels, as a multiple of ``channels``.
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
    ) -> None:
        super().__init__()
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
            self.cells.append(
                DartsCell(n_nodes, channels_pp, channels_p, cell_channels, reduction_p, reduction)
            )
            channels_pp, channels_p = channels_p, n_nodes * cell_channels
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(channels_p, n_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pprev = prev = self.stem(x)
        for cell in self.cells:
            pprev, prev = prev, cell(pprev, prev)
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
