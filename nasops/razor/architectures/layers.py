"""Conv-norm-activation building blocks configured like mmcv's (``norm_cfg=dict(type='BN')``).

The ShuffleNet ops take mmcv-style configs; these small modules build them without mmcv, with
mmcv's sub-module names (``conv``, ``bn``, ``activate``), so the state-dict keys match.
"""

from collections.abc import Callable, Mapping
from typing import Any

import torch
from torch import nn

from nasops.razor.errors import ValueAssertionError

Cfg = Mapping[str, Any] | None

# mmcv norm type → (attribute name, factory(channels, **kwargs)).
_NORMS: dict[str, tuple[str, Callable[..., nn.Module]]] = {
    "BN": ("bn", nn.BatchNorm2d),
    "BN2d": ("bn", nn.BatchNorm2d),
    "SyncBN": ("bn", nn.SyncBatchNorm),
    "IN": ("in", nn.InstanceNorm2d),
    "GN": ("gn", lambda channels, num_groups, **kw: nn.GroupNorm(num_groups, channels, **kw)),
}
_ACTS: dict[str, Callable[..., nn.Module]] = {
    "ReLU": nn.ReLU,
    "ReLU6": nn.ReLU6,
    "LeakyReLU": nn.LeakyReLU,
    "PReLU": nn.PReLU,
    "Sigmoid": nn.Sigmoid,
    "HSigmoid": nn.Hardsigmoid,
    "HSwish": nn.Hardswish,
    "Swish": nn.SiLU,
    "SiLU": nn.SiLU,
    "GELU": nn.GELU,
    "Tanh": nn.Tanh,
}
_CONVS = ("Conv", "Conv2d")


def _split(cfg: Mapping[str, Any], what: str, accepted: list[str]) -> tuple[str, dict]:
    kwargs = dict(cfg)
    kind = kwargs.pop("type", None)
    if kind not in accepted:
        raise ValueAssertionError(f"{what} type {kind!r} is not supported; accepted: {accepted}")
    return kind, kwargs


def build_norm(cfg: Mapping[str, Any], channels: int) -> tuple[str, nn.Module]:
    """The norm layer of ``cfg`` over ``channels``, with its mmcv attribute name."""
    kind, kwargs = _split(cfg, "norm_cfg", list(_NORMS))
    requires_grad = kwargs.pop("requires_grad", True)
    name, factory = _NORMS[kind]
    layer = factory(channels, **kwargs)
    for p in layer.parameters():
        p.requires_grad = requires_grad
    return name, layer


def build_activation(cfg: Mapping[str, Any]) -> nn.Module:
    """The activation of ``cfg`` (``inplace`` defaults to True where the layer has it)."""
    kind, kwargs = _split(cfg, "act_cfg", list(_ACTS))
    if kind in ("ReLU", "ReLU6", "LeakyReLU", "HSigmoid", "HSwish", "Swish", "SiLU"):
        kwargs.setdefault("inplace", True)
    return _ACTS[kind](**kwargs)


class ConvModule(nn.Module):
    """Conv2d, then an optional norm, then an optional activation (mmcv's ``ConvModule``).

    The conv has a bias only without a norm, as mmcv's ``bias='auto'``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        groups: int = 1,
        conv_cfg: Cfg = None,
        norm_cfg: Cfg = None,
        act_cfg: Cfg = None,
    ) -> None:
        super().__init__()
        if conv_cfg is not None:
            _split(conv_cfg, "conv_cfg", list(_CONVS))
        self.conv = nn.Conv2d(
            in_channels,
            out_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            groups=groups,
            bias=norm_cfg is None,
        )
        self.norm_name: str | None = None
        if norm_cfg is not None:
            self.norm_name, norm = build_norm(norm_cfg, out_channels)
            self.add_module(self.norm_name, norm)
        self.activate = build_activation(act_cfg) if act_cfg is not None else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(x)
        if self.norm_name is not None:
            x = getattr(self, self.norm_name)(x)
        return x if self.activate is None else self.activate(x)


class DepthwiseSeparableConvModule(nn.Module):
    """A depthwise ``ConvModule`` then a pointwise one (mmcv's module of that name).

    ``dw_act_cfg`` is the depthwise activation (None: none), ``act_cfg`` the pointwise one.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        conv_cfg: Cfg = None,
        norm_cfg: Cfg = None,
        dw_act_cfg: Cfg = None,
        act_cfg: Cfg = None,
    ) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(
            in_channels,
            in_channels,
            kernel_size,
            stride=stride,
            padding=padding,
            groups=in_channels,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=dw_act_cfg,
        )
        self.pointwise_conv = ConvModule(
            in_channels, out_channels, 1, conv_cfg=conv_cfg, norm_cfg=norm_cfg, act_cfg=act_cfg
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """Interleave the channels of ``groups`` equal groups (ShuffleNet's channel shuffle)."""
    n, c, h, w = x.shape
    if c % groups:
        raise ValueAssertionError(f"{c} channels do not split into {groups} equal groups")
    return x.view(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)
