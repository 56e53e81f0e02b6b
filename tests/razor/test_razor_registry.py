"""The ``'mmrazor'`` MODELS registry: every razor class, config builds, user registrations."""

import logging

import pytest
import torch
from razor_helpers import Scale
from torch import nn

import nasops.razor as razor
from nasops.razor import architectures

mmengine = pytest.importorskip("mmengine", reason="the registry needs mmengine")
from mmengine.registry import MODELS as ROOT  # noqa: E402
from mmengine.registry import DefaultScope  # noqa: E402

from nasops.razor.registry import MODELS, register_all_modules  # noqa: E402


def test_registry_is_scope_mmrazor_under_mmengines_models() -> None:
    assert MODELS.scope == "mmrazor" and MODELS.parent is ROOT
    assert ROOT._search_child("mmrazor") is MODELS


MODULE_CLASSES = {
    name: cls
    for space in (razor, architectures)
    for name in space.__all__
    if isinstance(cls := getattr(space, name), type) and issubclass(cls, nn.Module)
}


@pytest.mark.parametrize("name", sorted(MODULE_CLASSES))
def test_every_module_class_is_registered_under_its_name(name: str) -> None:
    cls = MODULE_CLASSES[name]
    assert MODELS.get(name) is cls and MODELS.get(f"mmrazor.{name}") is cls


def test_nested_candidate_configs_build_through_the_registry() -> None:
    op = MODELS.build(
        {
            "type": "mmrazor.OneShotMutableOP",
            "candidates": {
                "s3": {"type": "ShuffleBlock", "kernel_size": 3},
                "x": {"type": "mmrazor.ShuffleXception"},
            },
            "module_kwargs": {"in_channels": 8, "out_channels": 8},
        }
    )
    assert isinstance(op._candidates["s3"], architectures.ShuffleBlock)
    assert isinstance(op._candidates["x"], architectures.ShuffleXception)
    assert op(torch.randn(1, 8, 4, 4)).shape == (1, 8, 4, 4)
    mutator = ROOT.build({"type": "mmrazor.NasMutator"})  # scoped names from the root too
    assert isinstance(mutator, razor.NasMutator)


def test_modules_users_register_are_found_by_candidates() -> None:
    MODELS.register_module(name="RegistryTestScale", module=Scale, force=True)
    ROOT.register_module(name="RootRegistryTestScale", module=Scale, force=True)
    op = razor.DiffMutableOP(
        {"a": {"type": "RegistryTestScale", "factor": 2.0}, "b": {"type": "RootRegistryTestScale"}},
        module_kwargs={"factor": 3.0},
    )
    torch.testing.assert_close(op.forward_all(torch.ones(1)), torch.tensor([6.0]))
    # Another scope switches to that scope's registry, as in mmengine.
    assert isinstance(
        MODELS.build({"_scope_": "mmengine", "type": "RootRegistryTestScale", "factor": 1.0}), Scale
    )


def test_an_unknown_type_names_the_registry() -> None:
    with pytest.raises(KeyError, match="NoSuchOp is not in the mmrazor::model registry"):
        razor.OneShotMutableOP({"a": {"type": "NoSuchOp"}})


def test_register_all_modules_sets_the_default_scope() -> None:
    before = set(DefaultScope._instance_dict)
    try:
        register_all_modules(init_default_scope=False)
        assert set(DefaultScope._instance_dict) == before
        register_all_modules()
        assert DefaultScope.get_current_instance().scope_name == "mmrazor"
    finally:
        for name in set(DefaultScope._instance_dict) - before:
            del DefaultScope._instance_dict[name]


def test_building_under_the_mmrazor_scope_logs_nothing_about_a_missing_mmrazor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import mmengine.logging

    warned: list[str] = []

    def print_log(msg: str, logger: object = None, level: int = logging.INFO) -> None:
        if level >= logging.WARNING:
            warned.append(msg)

    monkeypatch.setattr(mmengine.logging, "print_log", print_log)
    MODELS.register_module(name="Scale", module=Scale, force=True)
    cfg = {"_scope_": "mmrazor", "type": "OneShotMutableOP", "candidates": {"a": {"type": "Scale"}}}
    op = MODELS.build({**cfg, "module_kwargs": {"factor": 2.0}})
    torch.testing.assert_close(op(torch.ones(1)), torch.tensor([2.0]))
    assert warned == []
