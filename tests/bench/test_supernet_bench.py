"""The supernet benchmark compares like with like: both paths compute the same step, only the
reductions differ, and the ``supernet`` level reports both paths and the targets."""

from collections import Counter
from collections.abc import Iterator

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

from nasops.bench import levels, supernet
from nasops.mutables import InputChoice, LayerChoice

TINY = supernet.SupernetConfig(batch=2, channels=4, image_size=8, n_nodes=2)


class OpCounter(TorchDispatchMode):
    """Counts the operators dispatched while it is active, by name."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        self.calls[str(func.overloadpacket)] += 1
        return func(*args, **(kwargs or {}))


@pytest.fixture
def one_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _gradients(step: supernet.SearchStep) -> dict[str, torch.Tensor]:
    named = [*step.model.named_parameters(), *step.mutator.named_parameters()]
    return {name: p.grad for name, p in named}


def test_both_paths_compute_the_same_loss_and_gradients(backend: str) -> None:
    steps = {path: supernet.SearchStep(path, TINY) for path in supernet.PATHS}
    losses = {}
    for path, step in steps.items():
        losses[path] = step.loss(step.valid)
        losses[path].backward()
    torch.testing.assert_close(losses["nni_path"], losses["nasops"])
    ours, nni = (_gradients(steps[p]) for p in ("nasops", "nni_path"))
    assert ours.keys() == nni.keys()
    assert all(g is not None for g in ours.values())
    assert any(name.startswith("choices.") for name in ours)
    for name in ours:
        torch.testing.assert_close(nni[name], ours[name], rtol=1e-4, atol=1e-6, msg=name)


@pytest.mark.parametrize("path", ["nasops", supernet.TRAINER_PATH])
def test_a_search_step_moves_every_path_to_nnis_weights_and_alphas(path: str) -> None:
    # nasops' DartsTrainer skips gradients NNI computes and discards, so it lands where NNI does.
    ours, nni = supernet.SearchStep(path, TINY), supernet.SearchStep("nni_path", TINY)
    before = ours.mutator.choices["normal_n2_p0"].detach().clone()
    ours()
    nni()
    assert not torch.equal(ours.mutator.choices["normal_n2_p0"], before)
    for a, b in [(ours.model, nni.model), (ours.mutator, nni.mutator)]:
        for (name, p), (_, q) in zip(a.named_parameters(), b.named_parameters(), strict=True):
            torch.testing.assert_close(q, p, rtol=1e-4, atol=1e-6, msg=name)


def test_only_the_nni_path_reads_masks_on_the_host_and_reduces_with_python_ops() -> None:
    counts = {}
    for path in supernet.PATHS:
        step = supernet.SearchStep(path, TINY)
        with OpCounter() as counter:
            step.loss(step.valid)
        counts[path] = counter.calls
    mutables = list(supernet.SearchStep("nasops", TINY).mutator.mutables)
    layer_choices = [m for m in mutables if isinstance(m, LayerChoice)]
    input_choices = [m for m in mutables if isinstance(m, InputChoice)]
    mask_entries = sum(len(m) for m in layer_choices) + sum(m.n_candidates for m in input_choices)
    assert counts["nasops"]["aten._local_scalar_dense"] == 0
    assert counts["nasops"]["nasops.weighted_sum"] == len(layer_choices) + len(input_choices)
    assert counts["nni_path"]["aten._local_scalar_dense"] == mask_entries
    assert counts["nni_path"]["aten.mul"] >= sum(len(m) for m in layer_choices)
    assert counts["nni_path"]["nasops.weighted_sum"] == 0


def _rows(speedup: float, peak_ours: float, peak_nni: float) -> list[dict]:
    return [
        {"path": supernet.TRAINER_PATH, "speedup_vs_nni_path": speedup, "peak_mib": peak_ours},
        {"path": "nni_path", "speedup_vs_nni_path": 1.0, "peak_mib": peak_nni},
    ]


@pytest.mark.parametrize(
    ("device_type", "speedup", "peaks", "met"),
    [
        ("cpu", 1.08, (10.0, 10.0), [True, True]),
        ("cpu", 1.07, (10.5, 10.0), [False, False]),
        ("cuda", 1.5, (9.0, 10.0), [True, True]),
        ("cuda", 1.49, (10.0, 10.0), [False, False]),
    ],
)
def test_targets_are_a_speedup_floor_and_a_peak_bound_per_device_type(
    device_type: str, speedup: float, peaks: tuple[float, float], met: list[bool]
) -> None:
    checks = supernet.check_targets(_rows(speedup, *peaks), device_type)
    assert [c["met"] for c in checks] == met


def test_targets_without_peaks_say_not_measured() -> None:
    peak_check = supernet.check_targets(_rows(1.2, None, None), "cpu")[1]
    assert peak_check["met"] is None and peak_check["measured"] == "not measured"


def test_a_fresh_process_measures_the_same_step_peak_as_this_one(one_thread: None) -> None:
    fresh = supernet.peaks_in_fresh_processes(TINY, "cpu", threads=1, paths=("nni_path",))
    assert fresh == {"nni_path": supernet.step_peak_bytes("nni_path", TINY, "cpu")}
    assert fresh["nni_path"] > 0


def test_supernet_level_reports_every_path_with_peaks_and_the_targets(
    monkeypatch: pytest.MonkeyPatch, one_thread: None
) -> None:
    monkeypatch.setattr(supernet, "QUICK", TINY)
    # The compiled row without compiling (inductor takes minutes here): the table's shape only.
    options = {**supernet.TRAINER_OPTIONS, supernet.COMPILED_PATH: {}}
    monkeypatch.setattr(supernet, "TRAINER_OPTIONS", options)
    # In this process (the fresh-process measure is pinned above), to keep the test short.
    monkeypatch.setattr(
        supernet,
        "peaks_in_fresh_processes",
        lambda config, device, threads, paths: {
            path: supernet.step_peak_bytes(path, config, device) for path in paths
        },
    )
    context = levels.LevelContext(quick=True, device="cpu", threads=1, max_reps=1)
    result = levels.LEVELS["supernet"].run(context)
    assert result.name == "supernet" and result.skipped is None
    assert [row["path"] for row in result.rows] == list(supernet.PATHS)
    for row in result.rows:
        assert tuple(row) == supernet.ROW_KEYS
        assert 0 < row["min_ms"] <= row["median_ms"] <= row["max_ms"]
        assert row["rounds"] == 1
        assert row["peak_mib"] > 0
    by_path = {row["path"]: row for row in result.rows}
    assert by_path["nni_path"]["speedup_vs_nni_path"] == 1.0
    assert by_path[supernet.COMPILED_PATH]["first_step_ms"] > 0
    assert result.info["config"]["batch"] == TINY.batch and result.info["threads"] == 1
    # The default step's speed and peak, recompute's peak and speed, the compiled step's speed.
    assert [type(t["met"]) for t in result.info["targets"]] == [bool] * 5
    assert "| path | median ms |" in result.markdown
    assert "| target | measured | met |" in result.markdown


def test_a_measure_of_some_paths_checks_only_their_targets(one_thread: None) -> None:
    paths = ("nni_path", supernet.TRAINER_PATH, supernet.RECOMPUTE_PATH)
    run = supernet.measure(TINY, rounds=1, memory_check=False, paths=paths[::-1])
    assert [row["path"] for row in run.rows] == [p for p in supernet.PATHS if p in paths]
    assert [t["target"].split()[0] for t in run.targets] == ["nasops'"] * 2 + ["recompute"] * 2


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        (("nni_path", supernet.TRAINER_PATH, "eager"), "unknown path 'eager'; accepted are"),
        ((supernet.TRAINER_PATH,), "must include .* 'nni_path' is missing"),
    ],
)
def test_bad_paths_are_named(paths: tuple[str, ...], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        supernet.check_paths(paths)


def test_a_measure_shows_its_steps_progress(
    one_thread: None, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = ("nni_path", supernet.TRAINER_PATH)
    supernet.measure(TINY, rounds=2, memory_check=False, paths=paths, progress=True)
    err = capsys.readouterr().err
    assert "nasops bench supernet" in err
    assert "6/6" in err  # a first step and 2 timed steps per path
