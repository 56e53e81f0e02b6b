"""The NAS-Bench-201 cell (NNI v1's ``nasbench201.NASBench201Cell``): four nodes, six edges."""

from collections import OrderedDict

import torch
from torch import nn

from nasops.mutables import LayerChoice
from nasops.nasbench201.nasbench201_ops import FactorizedReduce, Pooling, ReLUConvBN, Zero
from nasops.ops import weighted_sum


class NASBench201Cell(nn.Module):
    """The NAS-Bench-201 cell: node 0 is the input, every later node sums one searched edge
    from each earlier node, and the cell returns node 3.

    Edge ``j → i`` is a LayerChoice with the key ``"<j>_<i>"`` (``"0_1"``, ``"0_2"``, ``"1_2"``,
    ``"0_3"``, ``"1_3"``, ``"2_3"``: every cell shares one architecture), reduction "mean", and
    the candidates ``none``, ``avg_pool_3x3``, ``conv_3x3``, ``conv_1x1``, ``skip_connect``.
    Edges from the input apply ``stride`` and go from ``C_in`` to ``C_out`` channels; the
    others keep ``C_out`` channels and the resolution. (NNI builds every edge for ``C_in``
    inputs and the "none" op with ``stride``, so it runs only with stride 1 and
    ``C_in == C_out``, where the two agree.)

    Args:
        cell_id: the cell's name (kept as ``cell_id``).
        C_in, C_out: input and output channels.
        stride: 1, or 2 to halve the resolution.
        bn_affine: whether the BatchNorms learn a scale and a shift.
        bn_momentum: the BatchNorms' running-statistics momentum.
        bn_track_running_stats: whether the BatchNorms keep running statistics.
    """

    def __init__(
        self,
        cell_id: str | int,
        C_in: int,
        C_out: int,
        stride: int,
        bn_affine: bool = True,
        bn_momentum: float = 0.1,
        bn_track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.NUM_NODES = 4
        bn = (bn_affine, bn_momentum, bn_track_running_stats)
        self.layers = nn.ModuleList()
        for i in range(self.NUM_NODES):
            edges = nn.ModuleList()
            for j in range(i):
                edge_in, edge_stride = (C_in, stride) if j == 0 else (C_out, 1)
                candidates = _edge_candidates(edge_in, C_out, edge_stride, bn)
                edges.append(LayerChoice(candidates, key=f"{j}_{i}", reduction="mean"))
            self.layers.append(edges)
        self.in_dim = C_in
        self.out_dim = C_out
        self.cell_id = cell_id

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        """``input``: the previous cell's output."""
        nodes = [input]
        for i in range(1, self.NUM_NODES):
            edges = [self.layers[i][j](nodes[j]) for j in range(i)]
            nodes.append(edges[0] if len(edges) == 1 else weighted_sum(edges))
        return nodes[-1]


def _edge_candidates(
    C_in: int, C_out: int, stride: int, bn: tuple[bool, float, bool]
) -> OrderedDict:
    """The five NAS-Bench-201 operations of one edge, in NNI's order."""
    if stride == 1 and C_in == C_out:
        skip = nn.Identity()
    else:
        skip = FactorizedReduce(C_in, C_out, stride, *bn)
    return OrderedDict(
        [
            ("none", Zero(C_in, C_out, stride)),
            ("avg_pool_3x3", Pooling(C_in, C_out, stride, *bn)),
            ("conv_3x3", ReLUConvBN(C_in, C_out, 3, stride, 1, 1, *bn)),
            ("conv_1x1", ReLUConvBN(C_in, C_out, 1, stride, 0, 1, *bn)),
            ("skip_connect", skip),
        ]
    )
