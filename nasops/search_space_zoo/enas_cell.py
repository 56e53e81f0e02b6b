"""NNI v1's ENAS search spaces (``search_space_zoo.enas_cell``): the micro layer and the macro
network.

Keys, candidates and state_dict names are NNI v2.8's, so architectures exported by NNI apply
here and checkpoints move between the two. Sums and concatenations go through nasops' ops.
"""

import torch
import torch.nn.functional as F
from torch import nn

from nasops.mutables import InputChoice, LayerChoice, MutableScope
from nasops.ops import weighted_concat, weighted_sum
from nasops.search_space_zoo.enas_ops import (
    ConvBranch,
    FactorizedReduce,
    Pool,
    PoolBranch,
    SepConvBN,
    StdConv,
)

# What each candidate of a micro node's LayerChoice is, in order (NNI builds them as a list, so
# export writes their indices).
MICRO_OPS = ("sepconv3x3", "sepconv5x5", "avgpool", "maxpool", "identity")


class Cell(nn.Module):
    """Half a micro node: the InputChoice ``<name>_input`` picks one earlier node, the
    LayerChoice ``<name>_op`` (sepconv 3x3, sepconv 5x5, avg pool, max pool, identity) runs
    on it. Returns the output and the input mask (which earlier node was used)."""

    def __init__(self, cell_name: str, prev_labels: list[str], channels: int) -> None:
        super().__init__()
        self.input_choice = InputChoice(
            choose_from=prev_labels, n_chosen=1, return_mask=True, key=cell_name + "_input"
        )
        self.op_choice = LayerChoice(
            [
                SepConvBN(channels, channels, 3, 1),
                SepConvBN(channels, channels, 5, 2),
                Pool("avg", 3, 1, 1),
                Pool("max", 3, 1, 1),
                nn.Identity(),
            ],
            key=cell_name + "_op",
        )

    def forward(self, prev_layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        chosen_input, chosen_mask = self.input_choice(prev_layers)
        return self.op_choice(chosen_input), chosen_mask


class Node(MutableScope):
    """One micro node (a MutableScope keyed ``node_name``): the sum of two :class:`Cell`\\ s,
    ``<node_name>_x`` and ``<node_name>_y``, and the union of their input masks."""

    def __init__(self, node_name: str, prev_node_names: list[str], channels: int) -> None:
        super().__init__(node_name)
        self.cell_x = Cell(node_name + "_x", prev_node_names, channels)
        self.cell_y = Cell(node_name + "_y", prev_node_names, channels)

    def forward(self, prev_layers: list[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        out_x, mask_x = self.cell_x(prev_layers)
        out_y, mask_y = self.cell_y(prev_layers)
        return weighted_sum([out_x, out_y]), mask_x | mask_y


class Calibration(nn.Module):
    """A :class:`StdConv` (``process``) to ``out_channels`` when the channels differ, else the
    identity (``process`` is None)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.process = None if in_channels == out_channels else StdConv(in_channels, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.process is None else self.process(x)


class ENASMicroLayer(nn.Module):
    """An ENAS micro-search layer: ``num_nodes`` searchable nodes over the two previous layers.

    Nodes 0 and 1 are the outputs of the layer before the previous one and of the previous one
    (brought to ``out_channels``, and halved first by ``reduce0``/``reduce1`` in a reduction
    layer). Each searchable node (:class:`Node`, key ``<normal|reduce>_node_<i>``) picks two
    earlier nodes and an operation for each, and adds the results. The nodes no other node
    picked are the layer's output: concatenated, passed through ReLU, mixed back to
    ``out_channels`` by a 1x1 convolution (the matching slice of ``final_conv_w``) and a
    BatchNorm. All normal layers share one architecture, all reduction layers another.

    Args:
        num_nodes: searchable nodes in the layer.
        in_channels_pp: output channels of the layer before the previous one.
        in_channels_p: output channels of the previous layer.
        out_channels: channels of every node and of the output.
        reduction: whether the layer halves the resolution of its inputs first.

    ``forward(pprev, prev)`` returns ``(prev, out)``: the next layer's two inputs (``prev``
    halved in a reduction layer). The used nodes are read on the host once per forward.
    """

    def __init__(
        self,
        num_nodes: int,
        in_channels_pp: int,
        in_channels_p: int,
        out_channels: int,
        reduction: bool,
    ) -> None:
        super().__init__()
        self.reduction = reduction
        if reduction:
            self.reduce0 = FactorizedReduce(in_channels_pp, out_channels, affine=False)
            self.reduce1 = FactorizedReduce(in_channels_p, out_channels, affine=False)
            in_channels_pp = in_channels_p = out_channels
        self.preproc0 = Calibration(in_channels_pp, out_channels)
        self.preproc1 = Calibration(in_channels_p, out_channels)

        self.num_nodes = num_nodes
        prefix = "reduce" if reduction else "normal"
        self.nodes = nn.ModuleList()
        node_labels = [InputChoice.NO_KEY, InputChoice.NO_KEY]
        for i in range(num_nodes):
            node_labels.append(f"{prefix}_node_{i}")
            self.nodes.append(Node(node_labels[-1], node_labels[:-1], out_channels))
        self.final_conv_w = nn.Parameter(
            torch.zeros(out_channels, num_nodes + 2, out_channels, 1, 1)
        )
        self.bn = nn.BatchNorm2d(out_channels, affine=False)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming-normal initialization of ``final_conv_w``."""
        nn.init.kaiming_normal_(self.final_conv_w)

    def forward(self, pprev: torch.Tensor, prev: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``pprev``, ``prev``: the outputs of the layer two back and of the previous layer."""
        if self.reduction:
            pprev, prev = self.reduce0(pprev), self.reduce1(prev)
        outputs = [self.preproc0(pprev), self.preproc1(prev)]
        used = torch.zeros(self.num_nodes + 2, dtype=torch.bool, device=prev.device)
        for node in self.nodes:
            node_out, mask = node(outputs)
            used[: mask.size(0)] |= mask.to(used.device)
            outputs.append(node_out)
        unused = [i for i, is_used in enumerate(used.tolist()) if not is_used]
        out = F.relu(weighted_concat([outputs[i] for i in unused], dim=1))
        conv_weight = self.final_conv_w[:, unused]
        out = F.conv2d(out, conv_weight.reshape(conv_weight.size(0), -1, 1, 1))
        return prev, self.bn(out)


class ENASMacroLayer(MutableScope):
    """An ENAS macro-search layer (a MutableScope keyed ``key``): a LayerChoice of six branches
    (conv 3x3, sepconv 3x3, conv 5x5, sepconv 5x5, avg pool, max pool) on the last earlier
    output, plus the sum of any subset of the other earlier outputs (the InputChoice
    ``skipconnect``, absent in the first layer), then a BatchNorm without affine.

    The LayerChoice and the InputChoice have automatic keys, as in NNI.

    Args:
        key: the layer's key, the label later layers' skip connections use.
        prev_labels: the keys of all earlier layers.
        in_filters: input channels.
        out_filters: output channels (equal to ``in_filters`` for a skip connection to add).
    """

    def __init__(self, key: str, prev_labels: list[str], in_filters: int, out_filters: int) -> None:
        super().__init__(key)
        self.in_filters = in_filters
        self.out_filters = out_filters
        self.mutable = LayerChoice(
            [
                ConvBranch(in_filters, out_filters, 3, 1, 1, separable=False),
                ConvBranch(in_filters, out_filters, 3, 1, 1, separable=True),
                ConvBranch(in_filters, out_filters, 5, 1, 2, separable=False),
                ConvBranch(in_filters, out_filters, 5, 1, 2, separable=True),
                PoolBranch("avg", in_filters, out_filters, 3, 1, 1),
                PoolBranch("max", in_filters, out_filters, 3, 1, 1),
            ]
        )
        self.skipconnect = (
            InputChoice(choose_from=prev_labels, n_chosen=None) if prev_labels else None
        )
        self.batch_norm = nn.BatchNorm2d(out_filters, affine=False)

    def forward(self, prev_list: list[torch.Tensor]) -> torch.Tensor:
        """Run the branch on ``prev_list[-1]``; skip connections choose from the others."""
        out = self.mutable(prev_list[-1])
        if self.skipconnect is not None:
            connection = self.skipconnect(prev_list[:-1])
            if connection is not None:
                # Out of place: the branch's last ReLU needs its output for the backward pass.
                out = weighted_sum([out, connection])
        return self.batch_norm(out)


class ENASMacroGeneralModel(nn.Module):
    """The ENAS macro-search network: a stem, ``num_layers`` :class:`ENASMacroLayer`\\ s keyed
    ``layer_<i>`` with a :class:`FactorizedReduce` of every earlier output after layers
    ``num_layers // 3 - 1`` and ``2 * (num_layers // 3) - 1``, global pooling, dropout and a
    linear classifier.

    Args:
        num_layers: macro layers.
        out_filters: channels of every layer.
        in_channels: channels of the images.
        num_classes: classes.
        dropout_rate: dropout before the classifier.
    """

    def __init__(
        self,
        num_layers: int = 12,
        out_filters: int = 24,
        in_channels: int = 3,
        num_classes: int = 10,
        dropout_rate: float = 0.0,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.num_classes = num_classes
        self.out_filters = out_filters
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, out_filters, 3, 1, 1, bias=False),
            nn.BatchNorm2d(out_filters),
        )
        pool_distance = num_layers // 3
        self.pool_layers_idx = [pool_distance - 1, 2 * pool_distance - 1]
        self.dropout_rate = dropout_rate
        self.dropout = nn.Dropout(dropout_rate)
        self.layers = nn.ModuleList()
        self.pool_layers = nn.ModuleList()
        labels: list[str] = []
        for layer_id in range(num_layers):
            labels.append(f"layer_{layer_id}")
            if layer_id in self.pool_layers_idx:
                self.pool_layers.append(FactorizedReduce(out_filters, out_filters))
            self.layers.append(ENASMacroLayer(labels[-1], labels[:-1], out_filters, out_filters))
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.dense = nn.Linear(out_filters, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of the images ``x``."""
        layers = [self.stem(x)]
        for layer_id, layer in enumerate(self.layers):
            layers.append(layer(layers))
            if layer_id in self.pool_layers_idx:
                pool = self.pool_layers[self.pool_layers_idx.index(layer_id)]
                layers = [pool(out) for out in layers]
        out = self.gap(layers[-1]).view(x.size(0), -1)
        return self.dense(self.dropout(out))
