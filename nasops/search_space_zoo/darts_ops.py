"""The operations of the DARTS search space (NNI v1's ``search_space_zoo.darts_ops``).

Module and attribute names, and the order of every ``nn.Sequential``, follow NNI, so the
state_dict of a DARTS model built here loads into NNI's and back.
"""

import torch
from torch import nn


class DropPath(nn.Module):
    """Zeroes a whole sample with probability ``p`` while training, scaling survivors by 1/(1-p).

    Args:
        p: the drop probability; 0 (the default) makes the module the identity. Models change it
            during training (NNI's ``DartsStackedCells.drop_path_prob``).
    """

    def __init__(self, p: float = 0.0) -> None:
        super().__init__()
        self.p = p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training or self.p <= 0.0:
            return x
        keep = 1.0 - self.p
        mask = x.new_empty((x.size(0),) + (1,) * (x.dim() - 1)).bernoulli_(keep)
        return x / keep * mask


class PoolBN(nn.Module):
    """3x3-style pooling then BatchNorm: ``pool`` (max, or avg without the padding) and ``bn``.

    Args:
        pool_type: "max" or "avg" (any case).
        C: channels.
        kernel_size, stride, padding: of the pooling.
        affine: whether the BatchNorm learns a scale and a shift.
    """

    def __init__(
        self,
        pool_type: str,
        C: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ) -> None:
        super().__init__()
        kind = pool_type.lower()
        if kind == "max":
            self.pool = nn.MaxPool2d(kernel_size, stride, padding)
        elif kind == "avg":
            self.pool = nn.AvgPool2d(kernel_size, stride, padding, count_include_pad=False)
        else:
            raise ValueError(f"PoolBN: pool_type must be 'max' or 'avg', got {pool_type!r}")
        self.bn = nn.BatchNorm2d(C, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.bn(self.pool(x))


class StdConv(nn.Sequential):
    """ReLU, convolution, BatchNorm, as the children ``0``, ``1``, ``2``."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ) -> None:
        super().__init__(
            nn.ReLU(),
            nn.Conv2d(C_in, C_out, kernel_size, stride, padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )


class FacConv(nn.Module):
    """Factorized convolution in ``net``: ReLU, a Kx1 then a 1xK convolution, BatchNorm.

    Both convolutions take ``stride`` and ``padding``, as in NNI.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_length: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(C_in, C_in, (kernel_length, 1), stride, padding, bias=False),
            nn.Conv2d(C_in, C_out, (1, kernel_length), stride, padding, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class DilConv(nn.Module):
    """(Dilated) depthwise-separable convolution in ``net``: ReLU, depthwise, pointwise, BN.

    With dilation 2 a 3x3 kernel sees 5x5 and a 5x5 kernel sees 9x9.
    """

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        dilation: int,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(
                C_in,
                C_in,
                kernel_size,
                stride,
                padding,
                dilation=dilation,
                groups=C_in,
                bias=False,
            ),
            nn.Conv2d(C_in, C_out, 1, stride=1, padding=0, bias=False),
            nn.BatchNorm2d(C_out, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class SepConv(nn.Module):
    """Depthwise-separable convolution applied twice (``net.0``, ``net.1``: two DilConvs of
    dilation 1; only the first has the stride)."""

    def __init__(
        self,
        C_in: int,
        C_out: int,
        kernel_size: int,
        stride: int,
        padding: int,
        affine: bool = True,
    ) -> None:
        super().__init__()
        self.net = nn.Sequential(
            DilConv(C_in, C_in, kernel_size, stride, padding, dilation=1, affine=affine),
            DilConv(C_in, C_out, kernel_size, 1, padding, dilation=1, affine=affine),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class FactorizedReduce(nn.Module):
    """Halves the resolution without losing pixels: two stride-2 1x1 convolutions, the second
    shifted by one pixel, each giving half of ``C_out``; then BatchNorm.

    Args:
        C_in, C_out: channels; ``C_out`` must be even.
        affine: whether the BatchNorm learns a scale and a shift.
    """

    def __init__(self, C_in: int, C_out: int, affine: bool = True) -> None:
        super().__init__()
        if C_out % 2:
            raise ValueError(
                f"FactorizedReduce: C_out must be even (two convolutions give half each), "
                f"got {C_out}"
            )
        self.relu = nn.ReLU()
        self.conv1 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.conv2 = nn.Conv2d(C_in, C_out // 2, 1, stride=2, padding=0, bias=False)
        self.bn = nn.BatchNorm2d(C_out, affine=affine)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(x)
        return self.bn(torch.cat([self.conv1(x), self.conv2(x[:, :, 1:, 1:])], dim=1))
