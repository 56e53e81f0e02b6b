"""The operations of the NAS-Bench-201 cell (NNI v1's ``nasbench201.nasbench201_ops``).

Module and attribute names follow NNI, so state_dicts match. Three cases NNI cannot run work
here: ``Pooling`` with a channel change (NNI builds its 1x1 convolution with dilation 0),
``Zero`` with a channel change and a stride (NNI keeps the input's resolution), and
``FactorizedReduce`` at stride 1 (NNI raises; the original NAS-Bench-201 code uses one 1x1
convolution, ``conv``).
"""

import torch
from torch import nn


class ReLUConvBN(nn.Module):
    """ReLU, convolution, BatchNorm, in ``op``.

    Args:
        C_in, C_out, kernel_size, stride, padding, dilation: of the convolution.
        bn_affine: whether the BatchNorm learns a scale and a shift.
        bn_momentum: the BatchNorm's running-statistics momentum.
        bn_track_running_stats: whether the BatchNorm keeps running statistics.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int,
        bn_affine: bool = True,
        bn_momentum: float = 0.1,
        bn_track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.op = nn.Sequential(
            nn.ReLU(inplace=False),
            nn.Conv2d(
                C_in,
                C_out,
                kernel_size,
                stride=stride,
                padding=padding,
                dilation=dilation,
                bias=False,
            ),
            nn.BatchNorm2d(
                C_out,
                affine=bn_affine,
                momentum=bn_momentum,
                track_running_stats=bn_track_running_stats,
            ),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


class Pooling(nn.Module):
    """3x3 average pooling (``op``), after a 1x1 ReLUConvBN (``preprocess``) when the channels
    change; ``preprocess`` is ``None`` otherwise. BatchNorm arguments as in :class:`ReLUConvBN`.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        stride: int,
        bn_affine: bool = True,
        bn_momentum: float = 0.1,
        bn_track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        if C_in == C_out:
            self.preprocess = None
        else:
            self.preprocess = ReLUConvBN(
                C_in, C_out, 1, 1, 0, 1, bn_affine, bn_momentum, bn_track_running_stats
            )
        self.op = nn.AvgPool2d(3, stride=stride, padding=1, count_include_pad=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.preprocess is not None:
            x = self.preprocess(x)
        return self.op(x)


class Zero(nn.Module):
    """The "none" edge: zeros of the output's shape (``C_out`` channels, resolution / stride).

    Without a channel change the zeros are ``x * 0`` of the strided input, so a NaN or an
    infinity in the input stays visible, as in NNI. ``is_zero`` marks the module for mutators
    that look for zero operations.
    """

    def __init__(self, C_in: int, C_out: int, stride: int) -> None:
        super().__init__()
        self.C_in = C_in
        self.C_out = C_out
        self.stride = stride
        self.is_zero = True

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride != 1:
            x = x[:, :, :: self.stride, :: self.stride]
        if self.C_in == self.C_out:
            return x.mul(0.0)
        shape = list(x.shape)
        shape[1] = self.C_out
        return x.new_zeros(shape)


class FactorizedReduce(nn.Module):
    """The skip connection of an edge that changes the resolution or the channels.

    Stride 2: two 1x1 stride-2 convolutions (``convs``), the second on the input shifted by one
    pixel (``pad``), giving ``C_out // 2`` and the rest of the channels; stride 1: one 1x1
    convolution (``conv``). Then BatchNorm (``bn``, arguments as in :class:`ReLUConvBN`).
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        stride: int,
        bn_affine: bool = True,
        bn_momentum: float = 0.1,
        bn_track_running_stats: bool = True,
    ) -> None:
        super().__init__()
        self.stride = stride
        self.C_in = C_in
        self.C_out = C_out
        self.relu = nn.ReLU(inplace=False)
        if stride == 2:
            halves = (C_out // 2, C_out - C_out // 2)
            self.convs = nn.ModuleList(
                nn.Conv2d(C_in, c, 1, stride=stride, padding=0, bias=False) for c in halves
            )
            self.pad = nn.ConstantPad2d((0, 1, 0, 1), 0)
        elif stride == 1:
            self.conv = nn.Conv2d(C_in, C_out, 1, stride=1, padding=0, bias=False)
        else:
            raise ValueError(f"FactorizedReduce: stride must be 1 or 2, got {stride!r}")
        self.bn = nn.BatchNorm2d(
            C_out,
            affine=bn_affine,
            momentum=bn_momentum,
            track_running_stats=bn_track_running_stats,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        if self.stride == 1:
            return self.bn(self.conv(x))
        shifted = self.pad(x)[:, :, 1:, 1:]
        return self.bn(torch.cat([self.convs[0](x), self.convs[1](shifted)], dim=1))
