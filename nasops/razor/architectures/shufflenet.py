"""``SearchableShuffleNetV2``: seed 004's ShuffleNetV2 supernet, one mutable per block.

``arch_setting`` rows are ``[channels, num_blocks, mutable_cfg]``; every block of a row is
built from ``mutable_cfg`` (typically a ``OneShotMutableOP`` over ``ShuffleBlock`` and
``ShuffleXception`` candidates) with ``module_kwargs`` giving its channels and stride (2 for the
first block of a row).
"""

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from nasops.razor.architectures.layers import ConvModule
from nasops.razor.candidates import build_candidate
from nasops.razor.errors import ValueAssertionError

Cfg = Mapping[str, Any] | None
LAST_CHANNELS = 1024


class SearchableShuffleNetV2(nn.Module):
    """ShuffleNetV2 backbone whose blocks are mutables (mmrazor's class of that name).

    Args:
        arch_setting: rows of ``[channels, num_blocks, mutable_cfg]``, one row per stage.
        stem_multiplier: the stem has ``16 * stem_multiplier`` channels.
        widen_factor: scales every stage's channels (``round(channels * widen_factor)``).
        out_indices: which layers' outputs ``forward`` returns (the last conv is layer
            ``len(arch_setting)`` when ``with_last_layer``).
        frozen_stages: the stem and the first ``frozen_stages`` layers get no gradient and
            stay in eval mode; -1 freezes nothing.
        with_last_layer: end with a 1x1 conv to 1024 channels.
        conv_cfg, norm_cfg, act_cfg: mmcv-style layer configs of the stem and last layer.
        norm_eval: keep batch norms in eval mode while training.
        with_cp: accepted for mmrazor's signature; the ops take their own ``with_cp``.
        init_cfg: kept for mmrazor's signature; ``init_weights`` does ShuffleNet's init.
    """

    def __init__(
        self,
        arch_setting: Sequence[Sequence[Any]],
        stem_multiplier: int = 1,
        widen_factor: float = 1.0,
        out_indices: Sequence[int] = (4,),
        frozen_stages: int = -1,
        with_last_layer: bool = True,
        conv_cfg: Cfg = None,
        norm_cfg: Cfg = None,
        act_cfg: Cfg = None,
        norm_eval: bool = False,
        with_cp: bool = False,
        init_cfg: Cfg = None,
    ) -> None:
        super().__init__()
        num_layers = len(arch_setting) + int(with_last_layer)
        for index in out_indices:
            if index not in range(num_layers):
                raise ValueError(
                    f"out_indices entries must be in range(0, {num_layers}), got {index!r}"
                )
        if frozen_stages not in range(-1, num_layers):
            raise ValueError(
                f"frozen_stages must be in range(-1, {num_layers}), got {frozen_stages!r}"
            )
        for row in arch_setting:
            if len(row) != 3:
                raise ValueAssertionError(
                    f"arch_setting rows are [channels, num_blocks, mutable_cfg], got {row!r}"
                )
        norm_cfg = {"type": "BN"} if norm_cfg is None else norm_cfg
        act_cfg = {"type": "ReLU"} if act_cfg is None else act_cfg
        self.arch_setting = arch_setting
        self.widen_factor = widen_factor
        self.out_indices = tuple(out_indices)
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.with_cp = with_cp
        self.init_cfg = init_cfg
        self.in_channels = 16 * stem_multiplier
        layer_cfg = {"conv_cfg": conv_cfg, "norm_cfg": norm_cfg, "act_cfg": act_cfg}
        self.conv1 = ConvModule(3, self.in_channels, 3, stride=2, padding=1, **layer_cfg)
        self.layers = nn.ModuleList(
            self._make_layer(round(channels * widen_factor), num_blocks, mutable_cfg)
            for channels, num_blocks, mutable_cfg in arch_setting
        )
        if with_last_layer:
            self.layers.append(ConvModule(self.in_channels, LAST_CHANNELS, 1, **layer_cfg))

    def _make_layer(
        self, out_channels: int, num_blocks: int, mutable_cfg: Mapping[str, Any]
    ) -> nn.Sequential:
        blocks = []
        for i in range(num_blocks):
            cfg = copy.deepcopy(dict(mutable_cfg))
            cfg["module_kwargs"] = {
                "in_channels": self.in_channels,
                "out_channels": out_channels,
                "stride": 2 if i == 0 else 1,
            }
            blocks.append(build_candidate(cfg))
            self.in_channels = out_channels
        return nn.Sequential(*blocks)

    def init_weights(self) -> None:
        """ShuffleNet's init: small normal convs (fan-in scaled), unit norms, zero means."""
        for name, m in self.named_modules():
            if isinstance(m, nn.Conv2d):
                std = 0.01 if name.startswith("conv1") else 1.0 / m.weight.shape[1]
                nn.init.normal_(m.weight, 0.0, std)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, _BatchNorm | nn.GroupNorm):
                nn.init.constant_(m.weight, 1.0)
                nn.init.constant_(m.bias, 1e-4)
                if isinstance(m, _BatchNorm) and m.running_mean is not None:
                    nn.init.zeros_(m.running_mean)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.conv1(x)
        outs = []
        for i, layer in enumerate(self.layers):
            x = layer(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        for module in [self.conv1, *self.layers[: self.frozen_stages]]:
            module.eval()
            for p in module.parameters():
                p.requires_grad = False

    def train(self, mode: bool = True) -> "SearchableShuffleNetV2":
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            for m in self.modules():
                if isinstance(m, _BatchNorm):
                    m.eval()
        return self
