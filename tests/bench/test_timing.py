"""The interleaved timer: round-robin order, a rotating start, medians."""

from nasops.bench.timing import interleaved_medians


def test_methods_are_called_round_robin_with_a_rotating_start() -> None:
    calls: list[str] = []
    fns = {name: (lambda name=name: calls.append(name)) for name in "abc"}
    interleaved_medians(fns, min_reps=3, max_reps=3, budget_s=0.0)
    first_round, rounds = calls[:3], calls[3:]
    assert first_round == ["a", "b", "c"]
    # Cheap calls repeat inside a sample; the order of the samples still rotates.
    distinct = [name for i, name in enumerate(rounds) if i == 0 or rounds[i - 1] != name]
    assert distinct == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]


def test_timing_reports_median_within_min_and_max() -> None:
    timings = interleaved_medians(
        {"x": lambda: sum(range(1000))}, min_reps=5, max_reps=5, budget_s=0.0
    )
    t = timings["x"]
    assert t.samples == 5
    assert 0 < t.min_s <= t.median_s <= t.max_s
