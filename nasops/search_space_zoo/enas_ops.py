"""The operations of NNI v1's ENAS search spaces (``search_space_zoo.enas_ops``).

Module and attribute names follow NNI, so the state_dict of a model built from them loads into
NNI's and back.
"""

import torch
from torch import nn


class StdConv(nn.Module):
    """1x1 convolution, BatchNorm without affine, ReLU: ``conv.0``, ``conv.1``, ``conv.2``."""

    def __init__(self, C_in: int, C_out: int) -> None:
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv2d(C_in, C_out, 1, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(C_out, affine=False),
            nn.ReLU(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class Pool(nn.Module):
    """Max pooling, or average pooling that ignores the padding.

    Args:
        pool_type: "max" or "avg" (any case).
        kernel_size, stride, padding: of the pooling.
    """

    def __init__(self, pool_type: str, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__()
        kind = pool_type.lower()
        if kind == "max":
            self.pool = nn.MaxPool2d(kernel_size, stride, padding)
        elif kind == "avg":
            self.pool = nn.AvgPool2d(kernel_size, stride, padding, count_include_pad=False)
        else:
            raise ValueError(f"Pool: pool_type must be 'max' or 'avg', got {pool_type!r}")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(x)


class PoolBranch(nn.Module):
    """A macro-space branch: :class:`StdConv` to ``C_out`` channels, pooling, BatchNorm.

    Args:
        pool_type: "max" or "avg".
        C_in, C_out: input and output channels.
        kernel_size, stride, padding: of the pooling.
        affine: whether the final BatchNorm learns a scale and a shift.
    """

    def __init__(
        self,
        pool_type: str,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = False,
    ) -> None:
        super().__init__()
        self.preproc = StdConv(C_in, C_out)
        self.pool = Pool(pool_type, kernel_size, stride, padding)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pool(self.preproc(x)))


class SeparableConv(nn.Module):
    """Depthwise ``kernel_size`` convolution then 1x1 pointwise convolution, both bias-free."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int) -> None:
        super().__init__()
        self.depthwise = nn.Conv2d(
            C_in, C_in, kernel_size, stride=stride, padding=padding, groups=C_in, bias=False
        )
        self.pointwise = nn.Conv2d(C_in, C_out, kernel_size=1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise(self.depthwise(x))


class ConvBranch(nn.Module):
    """A macro-space branch: :class:`StdConv` to ``C_out`` channels, a plain or separable
    ``kernel_size`` convolution, BatchNorm (no affine) and ReLU (``postproc``).

    Args:
        C_in, C_out: input and output channels.
        kernel_size, stride, padding: of the main convolution.
        separable: use a :class:`SeparableConv` instead of a plain convolution (with bias).
    """

    def __init__(
        self, C_in: int, C_out: int, kernel_size: int, stride: int, padding: int, separable: bool
    ) -> None:
        super().__init__()
        self.preproc = StdConv(C_in, C_out)
        if separable:
            self.conv = SeparableConv(C_out, C_out, kernel_size, stride, padding)
        else:
            self.conv = nn.Conv2d(C_out, C_out, kernel_size, stride=stride, padding=padding)
        self.postproc = nn.Sequential(nn.BatchNorm2d(C_out, affine=False), nn.ReLU())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.postproc(self.conv(self.preproc(x)))


class FactorizedReduce(nn.Module):
    """Halves the resolution: two stride-2 1x1 convolutions, the second shifted by one pixel,
    each to ``C_out // 2`` channels, concatenated, then BatchNorm."""

    def __init__(self, C_in: int, C_out: int, affine: bool = False) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(torch.cat([self.conv1(x), self.conv2(x[:, :, 1:, 1:])], dim=1))


class SepConvBN(nn.Module):
    """A micro-space candidate: ReLU, stride-1 :class:`SeparableConv`, affine BatchNorm."""

    def __init__(self, C_in: int, C_out: int, kernel_size: int, padding: int) -> None:
        super().__init__()
        self.relu = nn.ReLU()
        self.conv = SeparableConv(C_in, C_out, kernel_size, 1, padding)
        self.bn = nn.BatchNorm2d(C_out, affine=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.conv(self.relu(x)))
