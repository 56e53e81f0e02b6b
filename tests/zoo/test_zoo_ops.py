"""The cells' operations: NNI's module layouts, DropPath, and the shapes of the edge ops."""

import pytest
import torch
from torch import nn

from nasops.nasbench201 import nasbench201_ops as nb201
from nasops.search_space_zoo import darts_ops


def test_drop_path_is_the_identity_at_p_zero_and_in_eval() -> None:
    x = torch.randn(4, 2, 3, 3)
    assert darts_ops.DropPath()(x) is x
    drop = darts_ops.DropPath(0.5).eval()
    assert drop(x) is x


def test_drop_path_zeroes_whole_samples_and_scales_the_others() -> None:
    torch.manual_seed(0)
    x = torch.randn(64, 2, 3, 3)
    out = darts_ops.DropPath(0.75)(x)
    dropped = out.flatten(1).eq(0).all(1)
    assert 0 < dropped.sum() < 64
    assert torch.allclose(out[~dropped], 4 * x[~dropped])


def test_darts_ops_keep_nnis_sequential_layout() -> None:
    std = darts_ops.StdConv(3, 4, 1, 1, 0)
    assert [type(m) for m in std] == [nn.ReLU, nn.Conv2d, nn.BatchNorm2d]
    fac = darts_ops.FacConv(3, 4, 3, 1, 1)
    assert [m.kernel_size for m in fac.net if isinstance(m, nn.Conv2d)] == [(3, 1), (1, 3)]
    dil = darts_ops.DilConv(4, 6, 3, 1, 2, 2)
    assert dil.net[1].groups == 4 and dil.net[1].dilation == (2, 2)
    sep = darts_ops.SepConv(4, 6, 3, 2, 1)
    assert sep.net[0].net[1].stride == (2, 2) and sep.net[1].net[1].stride == (1, 1)


@pytest.mark.parametrize(
    "op",
    [
        darts_ops.PoolBN("max", 4, 3, 2, 1),
        darts_ops.PoolBN("AVG", 4, 3, 2, 1),
        darts_ops.DilConv(4, 4, 5, 2, 4, 2),
        darts_ops.SepConv(4, 4, 5, 2, 2),
        darts_ops.FactorizedReduce(4, 4),
    ],
    ids=["maxpool", "avgpool", "dilconv5x5", "sepconv5x5", "factorized-reduce"],
)
def test_darts_stride_two_ops_halve_the_resolution(op: nn.Module) -> None:
    assert op(torch.randn(2, 4, 8, 8)).shape == (2, 4, 4, 4)


def test_darts_op_arguments_are_checked() -> None:
    with pytest.raises(ValueError, match="pool_type must be 'max' or 'avg', got 'min'"):
        darts_ops.PoolBN("min", 4, 3, 1, 1)
    with pytest.raises(ValueError, match=r"C_out must be even .* got 5"):
        darts_ops.FactorizedReduce(4, 5)


@pytest.mark.parametrize(("c_out", "stride"), [(8, 2), (7, 2), (8, 1)])
def test_nb201_factorized_reduce_maps_channels_and_resolution(c_out: int, stride: int) -> None:
    op = nb201.FactorizedReduce(4, c_out, stride)
    assert op(torch.randn(2, 4, 7, 7)).shape == (
        2,
        c_out,
        4 if stride == 2 else 7,
        4 if stride == 2 else 7,
    )


def test_nb201_factorized_reduce_rejects_other_strides() -> None:
    with pytest.raises(ValueError, match="stride must be 1 or 2, got 3"):
        nb201.FactorizedReduce(4, 4, 3)


@pytest.mark.parametrize(("c_out", "stride"), [(4, 1), (4, 2), (8, 1), (8, 2)])
def test_nb201_zero_and_pooling_give_the_edge_output_shape(c_out: int, stride: int) -> None:
    x = torch.randn(2, 4, 8, 8)
    shape = (2, c_out, 8 // stride, 8 // stride)
    zeros = nb201.Zero(4, c_out, stride)(x)
    assert zeros.shape == shape and not zeros.any()
    assert nb201.Pooling(4, c_out, stride)(x).shape == shape


def test_nb201_zero_keeps_a_nan_visible_without_a_channel_change() -> None:
    x = torch.full((1, 4, 2, 2), float("nan"))
    assert nb201.Zero(4, 4, 1)(x).isnan().all()
