"""Value, channel and derived mutables: choices, fixing, derivation arithmetic and masks."""

import pytest
import torch

from nasops.razor import (
    DerivedMutable,
    DumpChosen,
    MutableChannelContainer,
    MutableValue,
    OneShotMutableChannel,
    OneShotMutableValue,
    SequentialMutableChannel,
    SimpleMutableChannel,
    SquentialMutableChannel,
    make_divisible,
)


def test_mutable_value_defaults_membership_and_types() -> None:
    mv = MutableValue([2, 4, 6])
    assert (mv.current_choice, mv.num_choices) == (2, 3)
    assert MutableValue([2, 4, 6], default_value=4).current_choice == 4
    with pytest.raises(ValueError, match=r"choice 5 is not in value_list; accepted values are"):
        MutableValue([2, 4, 6], default_value=5)
    with pytest.raises(TypeError, match="one type"):
        MutableValue([2, 3.2])
    assert repr(mv) == "MutableValue(value_list=[2, 4, 6], current_choice=2)"


def test_one_shot_value_sorts_defaults_to_max_and_samples_members() -> None:
    mv = OneShotMutableValue([6, 4, 2])
    assert (mv.choices, mv.current_choice, mv.max_choice, mv.min_choice) == ([2, 4, 6], 6, 6, 2)
    assert OneShotMutableValue([6, 4, 2], default_value=4).current_choice == 4
    assert {mv.sample_choice() for _ in range(200)} == {2, 4, 6}


def test_value_fixing_is_enforced() -> None:
    mv = OneShotMutableValue([1, 3, 5])
    with pytest.raises(ValueError, match="not in value_list"):
        mv.fix_chosen(4)
    mv.fix_chosen(3)
    assert (mv.current_choice, mv.choices, mv.is_fixed) == (3, [3], True)
    assert mv.dump_chosen() == DumpChosen(chosen=3, meta={"all_choices": [3]})
    mv.current_choice = 3  # re-setting the fixed value is allowed
    with pytest.raises(ValueError, match="accepted values are \\[3\\]"):
        mv.current_choice = 5
    with pytest.raises(RuntimeError, match="fixed twice"):
        mv.fix_chosen(3)


def test_expand_tracks_the_source_and_cannot_be_set() -> None:
    mv = OneShotMutableValue([2, 3])
    for derived in (mv * 2, 2 * mv):
        mv.current_choice = 3
        assert derived.current_choice == 6
        mv.current_choice = 2
        assert derived.current_choice == 4
        assert derived.source_mutables == {mv} and derived.num_choices == 1
    with pytest.raises(RuntimeError, match="cannot be set"):
        (mv * 2).current_choice = 4
    with pytest.raises(RuntimeError, match="no current_mask"):
        _ = (mv * 2).current_mask
    assert (OneShotMutableValue([2, 4]) * 3).choices == [6, 12]
    assert (mv * 1.5).choices == [3, 4]


def test_divide_uses_make_divisible() -> None:
    mv = MutableValue([120, 128, 136])
    by8, by8_3, by8f = mv // 8, mv // (8, 3), mv // 8.0
    float_ratio = mv.derive_divide_mutable(8.0)  # a float ratio asked for directly: divisor 1
    expected = {120: (16, 15, 16, 15), 128: (16, 15, 16, 16), 136: (16, 18, 16, 17)}
    for value, want in expected.items():
        mv.current_choice = value
        got = (by8, by8_3, by8f, float_ratio)
        assert tuple(d.current_choice for d in got) == want
    assert make_divisible(30, 8) == 32 and make_divisible(10, 8) == 16


def test_mutable_ratio_is_live() -> None:
    ch = SquentialMutableChannel(10)
    ratio = OneShotMutableValue([1.0, 2.0])
    derived = ch * ratio
    ch.current_choice = 6
    assert (
        derived.current_choice,
        derived.current_mask.numel(),
        int(derived.current_mask.sum()),
    ) == (12, 20, 12)
    ratio.current_choice = 1.0
    assert derived.current_choice == 6 and int(derived.current_mask.sum()) == 6
    assert (ratio * ch).current_choice == 6
    assert derived.source_mutables == {ch, ratio}
    halved = OneShotMutableValue([16, 32]) // ratio
    ratio.current_choice = 2.0
    assert halved.current_choice == 16


def test_plain_value_times_channel_is_rejected() -> None:
    with pytest.raises(TypeError, match=r"unsupported operand for \*"):
        MutableValue([1, 2]) * SquentialMutableChannel(4)
    with pytest.raises(TypeError, match=r"unsupported operand for \*"):
        SquentialMutableChannel(4) * MutableValue([1, 2])


def test_concat_adds_choices_and_concatenates_masks() -> None:
    a, b = SquentialMutableChannel(3), SquentialMutableChannel(4)
    a.current_choice, b.current_choice = 2, 1
    cat = DerivedMutable.derive_concat_mutable([a, b])
    assert cat.current_choice == 3
    assert cat.current_mask.tolist() == [True, True, False, True, False, False, False]
    nested = DerivedMutable.derive_concat_mutable([cat, a * 2])
    assert nested.current_choice == 7 and nested.source_mutables == {a, b}
    with pytest.raises(RuntimeError, match="current_mask"):
        DerivedMutable.derive_concat_mutable([a, OneShotMutableValue([1])])


def test_derived_sources_fixing_and_dump(caplog: pytest.LogCaptureFixture) -> None:
    ch, mv = SquentialMutableChannel(8), OneShotMutableValue([1.0, 2.0])
    derived = ch * mv
    assert not derived.is_fixed
    ch.fix_chosen()
    assert not derived.is_fixed
    mv.fix_chosen(2.0)
    assert derived.is_fixed
    with pytest.raises(RuntimeError):
        derived.is_fixed = True
    assert derived.dump_chosen() == DumpChosen(chosen=16, meta=None)
    derived.fix_chosen(3)  # no effect, logged like mmrazor
    assert derived.current_choice == 16
    assert [r.getMessage().split(";")[0].split(":")[0] for r in caplog.records] == [
        "dump_chosen on a derived mutable",
        "fix_chosen on a derived mutable has no effect",
    ]
    with pytest.raises(RuntimeError, match="no source mutable"):
        DerivedMutable(choice_fn=lambda: 3)
    with pytest.raises(ValueError, match="source"):
        DerivedMutable(choice_fn=lambda: 3, source_mutables=[derived])


def test_sequential_channel_modes_and_mask() -> None:
    ch = SquentialMutableChannel(4)
    ch.current_choice = 3
    assert ch.activated_channels == 3 and ch.current_mask.tolist() == [True, True, True, False]
    assert repr(ch) == "SquentialMutableChannel(num_channels=4, activated_channels=3)"
    assert SequentialMutableChannel is SquentialMutableChannel
    ten = SquentialMutableChannel(10)
    ten.current_choice = 0.2
    assert ten.current_choice == 2
    ratio = SquentialMutableChannel(10, choice_mode="ratio")
    ratio.current_choice = 2
    assert ratio.current_choice == pytest.approx(0.2)
    with pytest.raises(ValueError, match=r"count in \[1, 4\]"):
        ch.current_choice = 5
    ch.fix_chosen()
    assert ch.dump_chosen() == DumpChosen(chosen=3, meta={"max_channels": 4})
    with pytest.raises(AttributeError, match="fixed"):
        ch.current_choice = 2
    assert (ten * 0.5).current_choice == 1


def test_a_float_channel_choice_is_a_ratio_clamped_to_the_width() -> None:
    ch = SquentialMutableChannel(128)
    ch.current_choice = 120.0  # mmrazor reads a float as a ratio: 120 x 128 channels, clamped
    assert ch.current_choice == 128
    ch.current_choice = 0.5
    assert ch.current_choice == 64
    with pytest.raises(ValueError, match="positive ratio"):
        ch.current_choice = -0.5


def test_simple_channel_takes_a_mask() -> None:
    ch = SimpleMutableChannel(4)
    ch.current_choice = torch.tensor([False, True, False, False])
    assert ch.activated_channels == 1 and ch.current_mask.dtype == torch.bool
    assert (
        ch.expand_mutable_channel(2).current_mask.tolist() == [False] * 2 + [True] * 2 + [False] * 4
    )


def test_one_shot_channel_candidates_are_not_shared() -> None:
    small, big = OneShotMutableChannel(8), OneShotMutableChannel(16)
    assert (small.candidate_choices, big.candidate_choices) == ([8], [16])
    big.current_choice = 16
    ch = OneShotMutableChannel(16, candidate_choices=[16, 8])
    assert (ch.choices, ch.current_choice, ch.min_choice) == ([8, 16], 16, 8)
    # Like mmrazor, the channel starts at its full width, whatever the candidates.
    assert OneShotMutableChannel(8, candidate_choices=[6, 2, 4]).current_choice == 8
    with pytest.raises(ValueError, match="not a candidate"):
        ch.current_choice = 12


def test_container_concatenates_registered_masks_and_fills_gaps() -> None:
    box = MutableChannelContainer(8)
    inner = SquentialMutableChannel(4)
    inner.current_choice = 1
    box.register_mutable(inner, 2, 6)
    assert box.current_mask.tolist() == [True, True, True, False, False, False, True, True]
    with pytest.raises(ValueError, match="holds 2 channels"):
        box.register_mutable(inner, 6, 8)
    with pytest.raises(NotImplementedError):
        box.current_choice = torch.ones(8)
