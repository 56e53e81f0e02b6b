"""The ShuffleNetV2 candidate ops of seed 004's search space: ``ShuffleBlock``, ``ShuffleXception``.

Both are ShuffleNetV2 units (mmrazor's ``mmrazor.models.architectures.ops``): with stride 1 the
input is split in two channel halves and only one is transformed; with stride > 1 both
branches see the whole input. The halves are concatenated and channel-shuffled.
"""

import itertools
from collections.abc import Mapping
from typing import Any

import torch
import torch.utils.checkpoint as cp
from torch import nn

from nasops.razor.architectures.layers import (
    ConvModule,
    DepthwiseSeparableConvModule,
    channel_shuffle,
)
from nasops.razor.errors import ValueAssertionError

Cfg = Mapping[str, Any] | None
BN = {"type": "BN"}
RELU = {"type": "ReLU"}


class BaseOP(nn.Module):
    """A searchable op from ``in_channels`` to ``out_channels`` at ``stride``.

    ``module_kwargs`` of a mutable (``in_channels``, ``out_channels``, ``stride``) land here.
    """

    def __init__(
        self, in_channels: int, out_channels: int, stride: int = 1, init_cfg: Cfg = None
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.stride = stride
        self.init_cfg = init_cfg


class _ShuffleUnit(BaseOP):
    """The two-branch ShuffleNetV2 unit; subclasses build ``branch2``."""

    def __init__(
        self,
        shortcut_kernel: int,
        conv_cfg: Cfg = None,
        norm_cfg: Cfg = BN,
        act_cfg: Cfg = RELU,
        with_cp: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.conv_cfg, self.norm_cfg, self.act_cfg = conv_cfg, norm_cfg, act_cfg
        self.with_cp = with_cp
        self.branch_features = self.out_channels // 2
        if self.stride == 1 and self.in_channels != 2 * self.branch_features:
            raise ValueAssertionError(
                f"{type(self).__name__}: with stride 1, in_channels ({self.in_channels}) must "
                f"equal out_channels rounded to even ({2 * self.branch_features})"
            )
        if self.stride > 1:
            self.branch1 = nn.Sequential(
                self._conv(self.in_channels, self.in_channels, shortcut_kernel, depthwise=True),
                self._conv(self.in_channels, self.branch_features, 1, act=True),
            )

    @property
    def branch2_in(self) -> int:
        """Channels entering ``branch2``: the whole input, or its half with stride 1."""
        return self.in_channels if self.stride > 1 else self.branch_features

    def _conv(
        self, cin: int, cout: int, kernel: int, depthwise: bool = False, act: bool = False
    ) -> ConvModule:
        return ConvModule(
            cin,
            cout,
            kernel,
            stride=self.stride if depthwise else 1,
            padding=kernel // 2,
            groups=cin if depthwise else 1,
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg if act else None,
        )

    def _unit(self, x: torch.Tensor) -> torch.Tensor:
        if self.stride > 1:
            out = torch.cat((self.branch1(x), self.branch2(x)), dim=1)
        else:
            kept, transformed = x.chunk(2, dim=1)
            out = torch.cat((kept, self.branch2(transformed)), dim=1)
        return channel_shuffle(out, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.with_cp and x.requires_grad:
            return cp.checkpoint(self._unit, x, use_reentrant=False)
        return self._unit(x)


class ShuffleBlock(_ShuffleUnit):
    """ShuffleNetV2 unit with a ``kernel_size`` depthwise conv (3, 5 or 7).

    Args:
        kernel_size: the depthwise kernel, one of 3, 5, 7.
        in_channels, out_channels, stride: the op's shape (usually the mutable's
            ``module_kwargs``).
        conv_cfg, norm_cfg, act_cfg: mmcv-style layer configs (conv2d, ``BN``, ``ReLU``).
        with_cp: recompute the unit in backward (activation checkpointing) to save memory.
    """

    def __init__(self, kernel_size: int, **kwargs: Any) -> None:
        if kernel_size not in (3, 5, 7):
            raise ValueAssertionError(f"kernel_size must be 3, 5 or 7, got {kernel_size!r}")
        self.kernel_size = kernel_size
        super().__init__(shortcut_kernel=kernel_size, **kwargs)
        half = self.branch_features
        self.branch2 = nn.Sequential(
            self._conv(self.branch2_in, half, 1, act=True),
            self._conv(half, half, kernel_size, depthwise=True),
            self._conv(half, half, 1, act=True),
        )


class ShuffleXception(_ShuffleUnit):
    """ShuffleNetV2 Xception unit: three 3x3 depthwise-separable convs in the branch.

    Args: see ``ShuffleBlock`` (no ``kernel_size``).
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(shortcut_kernel=3, **kwargs)
        self.mid_channels = self.out_channels // 2
        widths = [self.branch2_in, self.mid_channels, self.mid_channels, self.branch_features]
        self.branch2 = nn.Sequential(
            *(
                DepthwiseSeparableConvModule(
                    cin,
                    cout,
                    3,
                    stride=self.stride if i == 0 else 1,
                    padding=1,
                    conv_cfg=self.conv_cfg,
                    norm_cfg=self.norm_cfg,
                    act_cfg=self.act_cfg,
                )
                for i, (cin, cout) in enumerate(itertools.pairwise(widths))
            )
        )
