"""NasMutator(memory="recompute"): a DiffMutableOP recomputes its candidates in backward and gets
the default mode's gradients; other mutables are untouched."""

import pytest
import torch
from torch import nn

from nasops.razor import DiffMutableOP, NasMutator


class _Space(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.op = DiffMutableOP(
            {
                "conv": nn.Sequential(nn.Conv2d(2, 2, 3, padding=1), nn.BatchNorm2d(2)),
                "pool": nn.AvgPool2d(3, 1, 1),
                "drop": nn.Sequential(nn.Dropout(0.5), nn.Conv2d(2, 2, 1)),
            }
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.op(x)


def _gradients(memory: str) -> list[torch.Tensor]:
    model = _Space().double()
    mutator = NasMutator(memory=memory)
    mutator.prepare_from_supernet(model)
    mutator.prepare_arch_params()
    with torch.no_grad():
        mutator.arch_params["module_0"].copy_(torch.tensor([0.3, -0.2, 0.5]))
    x = torch.randn(2, 2, 4, 4, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    torch.manual_seed(2)
    loss = model(x).square().sum()
    return list(torch.autograd.grad(loss, [*model.parameters(), *mutator.parameters()]))


def test_recompute_mode_gives_the_default_gradients():
    default, recompute = _gradients("default"), _gradients("recompute")
    assert len(default) == len(recompute) == 4 + 2 + 1  # conv+bn, 1x1 conv, arch param
    for g, g_r in zip(default, recompute, strict=True):
        torch.testing.assert_close(g_r, g, atol=1e-10, rtol=1e-10)


def test_the_mode_is_bound_by_prepare_arch_params_and_checked():
    model = _Space()
    mutator = NasMutator(memory="recompute")
    mutator.prepare_from_supernet(model)
    assert model.op.memory == "default"
    mutator.prepare_arch_params()
    assert model.op.memory == "recompute"
    with pytest.raises(ValueError, match="memory must be one of"):
        NasMutator(memory="checkpoint")
