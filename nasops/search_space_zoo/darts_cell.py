"""The DARTS cell (NNI v1's ``search_space_zoo.DartsCell``): a DAG of searchable edges.

Keys, candidate names and state_dict names are NNI's, so architectures exported by NNI's DARTS
cell apply here and checkpoints move between the two.
"""

from collections import OrderedDict

import torch
from torch import nn

from nasops.mutables import InputChoice, LayerChoice
from nasops.ops import weighted_concat
from nasops.search_space_zoo.darts_ops import (
    DilConv,
    DropPath,
    FactorizedReduce,
    PoolBN,
    SepConv,
    StdConv,
)


def _edge_candidates(channels: int, stride: int) -> OrderedDict:
    """The seven DARTS operations of one edge, in NNI's order; the names are what export writes."""
    skip = nn.Identity() if stride == 1 else FactorizedReduce(channels, channels, affine=False)
    return OrderedDict(
        [
            ("maxpool", PoolBN("max", channels, 3, stride, 1, affine=False)),
            ("avgpool", PoolBN("avg", channels, 3, stride, 1, affine=False)),
            ("skipconnect", skip),
            ("sepconv3x3", SepConv(channels, channels, 3, stride, 1, affine=False)),
            ("sepconv5x5", SepConv(channels, channels, 5, stride, 2, affine=False)),
            ("dilconv3x3", DilConv(channels, channels, 3, stride, 2, 2, affine=False)),
            ("dilconv5x5", DilConv(channels, channels, 5, stride, 4, 2, affine=False)),
        ]
    )


class Node(nn.Module):
    """One intermediate node: an edge (LayerChoice) from every earlier node, two of them kept.

    Edge ``i`` has the key ``<node_id>_p<i>``; the InputChoice ``<node_id>_switch`` picks two
    edges (``n_chosen=2``) and sums them. An edge whose LayerChoice selects nothing (pruned by a
    fixed architecture) yields ``None`` and skips the drop path; the switch must not pick it.

    Args:
        node_id: the key prefix, e.g. ``normal_n3``.
        num_prev_nodes: how many nodes come before (the two cell inputs included).
        channels: channels of every edge.
        num_downsample_connect: the first this-many edges have stride 2 (2 in a reduction cell,
            for the cell inputs; 0 otherwise).
    """

    def __init__(
        self, node_id: str, num_prev_nodes: int, channels: int, num_downsample_connect: int
    ) -> None:
        super().__init__()
        self.ops = nn.ModuleList()
        choice_keys = []
        for i in range(num_prev_nodes):
            stride = 2 if i < num_downsample_connect else 1
            choice_keys.append(f"{node_id}_p{i}")
            self.ops.append(LayerChoice(_edge_candidates(channels, stride), key=choice_keys[-1]))
        self.drop_path = DropPath()
        self.input_switch = InputChoice(
            choose_from=choice_keys, n_chosen=2, key=f"{node_id}_switch"
        )

    def forward(self, prev_nodes: list[torch.Tensor]) -> torch.Tensor | None:
        assert len(self.ops) == len(prev_nodes), (
            f"Node: expected {len(self.ops)} previous nodes, got {len(prev_nodes)}"
        )
        out = [op(node) for op, node in zip(self.ops, prev_nodes, strict=True)]
        out = [None if o is None else self.drop_path(o) for o in out]
        return self.input_switch(out)


class DartsCell(nn.Module):
    """A DARTS cell: two inputs, ``n_nodes`` searchable nodes, their outputs concatenated.

    The inputs are the outputs of the cell before the previous one and of the previous one,
    each brought to ``channels`` by a 1x1 convolution (``preproc0``, ``preproc1``; ``preproc0``
    also halves the resolution when the previous cell was a reduction cell). Node ``k``
    (``mutable_ops[k - 2]``, k = 2 .. n_nodes + 1) takes one edge from each earlier node and
    keeps two (:class:`Node`). The output concatenates the nodes along the channels:
    ``n_nodes * channels`` channels.

    Keys are ``<normal|reduce>_n<k>_p<i>`` (edge from node i into node k) and
    ``<normal|reduce>_n<k>_switch``; all normal cells share one architecture, all reduction
    cells another.

    Args:
        n_nodes: searchable nodes in the cell.
        channels_pp: output channels of the cell before the previous one.
        channels_p: output channels of the previous cell.
        channels: channels of each node.
        reduction_p: whether the previous cell is a reduction cell.
        reduction: whether this cell is one (its edges from the inputs have stride 2).
    """

    def __init__(
        self,
        n_nodes: int,
        channels_pp: int,
        channels_p: int,
        channels: int,
        reduction_p: bool,
        reduction: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        self.n_nodes = n_nodes
        # After a reduction cell, the input from two cells back has twice the resolution.
        if reduction_p:
            self.preproc0 = FactorizedReduce(channels_pp, channels, affine=False)
        else:
            self.preproc0 = StdConv(channels_pp, channels, 1, 1, 0, affine=False)
        self.preproc1 = StdConv(channels_p, channels, 1, 1, 0, affine=False)
        kind = "reduce" if reduction else "normal"
        self.mutable_ops = nn.ModuleList(
            Node(f"{kind}_n{depth}", depth, channels, 2 if reduction else 0)
            for depth in range(2, n_nodes + 2)
        )

    def forward(self, pprev: torch.Tensor, prev: torch.Tensor) -> torch.Tensor:
        """``pprev``, ``prev``: the outputs of the cell two back and of the previous cell."""
        tensors = [self.preproc0(pprev), self.preproc1(prev)]
        for node in self.mutable_ops:
            tensors.append(node(tensors))
        return weighted_concat(tensors[2:], dim=1)
