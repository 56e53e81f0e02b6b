"""``nasops search`` end to end: every algorithm searches, exports, retrains and tests; the files
it writes and what it prints."""

import contextlib
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from search_helpers import TINY, hide_module, write_images

import nasops
from nasops.cli import main
from nasops.fixed import apply_fixed_architecture
from nasops.search.algorithms import ALGORITHMS
from nasops.search.genotype import choices_of
from nasops.search.supernet import SearchSupernet
from nasops.utils import _reset_global_mutable_counting

pytest.importorskip("sklearn")

RESULT_KEYS = {
    "algorithm",
    "seed",
    "epochs",
    "retrain_epochs",
    "channels",
    "search_seconds",
    "retrain_seconds",
    "test_accuracy",
    "dataset",
    "images",
    "versions",
    "backend",
    "memory",
    "compile",
    "device",
    "architecture",
    "search_history",
    "retrain_history",
}
DARTS_FAMILY = {"darts", "pdarts", "gdas"}


@pytest.fixture(scope="module")
def darts_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    pytest.importorskip("matplotlib")
    out = tmp_path_factory.mktemp("search")
    stdout = io.StringIO()
    with contextlib.redirect_stdout(stdout):
        assert main(["search", "--algo", "darts", "--out", str(out), *TINY, "--epochs", "2"]) == 0
    return out, stdout.getvalue()


def _fresh_supernet(space: str = "darts") -> SearchSupernet:
    _reset_global_mutable_counting()
    return SearchSupernet(1, (8, 8), 10, channels=2, space=space)


def test_darts_writes_the_architecture_the_result_and_both_pictures(darts_run) -> None:
    out, _ = darts_run
    assert sorted(p.name for p in out.iterdir()) == [
        "arch.json",
        "arch.png",
        "result.json",
        "search.png",
    ]
    for picture in ("search.png", "arch.png"):
        assert (out / picture).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_result_json_names_the_run_its_times_accuracy_versions_and_backend(darts_run) -> None:
    result = json.loads((darts_run[0] / "result.json").read_text())
    assert RESULT_KEYS <= set(result)
    assert result["algorithm"] == "darts"
    assert (result["seed"], result["epochs"], result["retrain_epochs"]) == (0, 2, 1)
    assert result["channels"] == {"search": 2, "retrain": 4}  # retrained twice as wide
    assert result["dataset"] == "digits"
    assert result["images"]["shape"] == [1, 8, 8] and result["images"]["classes"] == 10
    assert sum(result["images"][part] for part in ("train", "valid", "test")) == 40
    assert 0.0 <= result["test_accuracy"] <= 1.0
    assert result["search_seconds"] > 0 and result["retrain_seconds"] > 0
    assert result["versions"]["nasops"] == nasops.__version__
    assert set(result["versions"]) == {"nasops", "torch", "python"}
    assert result["backend"] == nasops.extension_info()["backend"]
    assert result["device"] == "cpu"
    assert [record["epoch"] for record in result["search_history"]] == [1, 2]
    assert json.loads((darts_run[0] / "arch.json").read_text()) == result["architecture"]


def test_arch_json_names_every_choice_and_applies_to_a_fresh_supernet(darts_run) -> None:
    architecture = json.loads((darts_run[0] / "arch.json").read_text())
    model = _fresh_supernet()
    choices = choices_of(model)
    assert set(architecture) == set(choices)
    for key, value in architecture.items():
        if key.endswith("_switch"):
            assert len(value) == 2 and all(v in choices[key].choose_from for v in value)
        else:
            assert value == [] or value in choices[key].names
    apply_fixed_architecture(model, architecture, verbose=False)


def test_darts_records_each_edges_softmax_weights_per_epoch(darts_run) -> None:
    weights = json.loads((darts_run[0] / "result.json").read_text())["edge_weights"]
    assert weights["epochs"] == [1, 2]
    assert set(weights["weights"]) == {k for k in choices_of(_fresh_supernet()) if "_p" in k}
    for rows in weights["weights"].values():
        assert len(rows) == 2
        for row in rows:
            assert len(row) == 8  # seven candidates and the zero op
            assert sum(row) == pytest.approx(1.0)


def test_the_command_prints_each_epoch_the_cells_and_the_test_accuracy(darts_run) -> None:
    out, stdout = darts_run
    lines = stdout.splitlines()
    assert lines[0].startswith("nasops search --algo darts: digits, 1x8x8 images in 10 classes")
    assert [line.split("  ")[0] for line in lines if line.startswith("search epoch")] == [
        "search epoch 1/2",
        "search epoch 2/2",
    ]
    assert any(line.strip().startswith("normal cell     node 0 = ") for line in lines)
    assert any(line.strip().startswith("reduction cell  node 0 = ") for line in lines)
    accuracy = json.loads((out / "result.json").read_text())["test_accuracy"]
    assert f"test accuracy: {accuracy:.4f}" in stdout
    assert lines[-1].startswith("wrote ") and "search.png" in lines[-1]


@pytest.mark.parametrize("algo", list(ALGORITHMS))
def test_each_algorithm_searches_retrains_and_tests(run_search, algo, backend, monkeypatch) -> None:
    hide_module(monkeypatch, "matplotlib")  # pictures are tested above; this keeps it fast
    outcome = run_search(algo=algo)
    assert outcome.code == 0, outcome.stderr
    result = json.loads((outcome.out / "result.json").read_text())
    assert result["algorithm"] == algo
    assert 0.0 <= result["test_accuracy"] <= 1.0
    stages = 3 if algo == "pdarts" else 1
    assert len(result["search_history"]) == stages
    assert ("edge_weights" in result) == (algo in DARTS_FAMILY)
    model = _fresh_supernet(ALGORITHMS[algo].space)
    assert set(result["architecture"]) == set(choices_of(model))
    apply_fixed_architecture(model, result["architecture"], verbose=False)


def test_pdarts_weights_leave_out_the_candidates_each_stage_dropped(run_search, monkeypatch):
    hide_module(monkeypatch, "matplotlib")
    outcome = run_search(algo="pdarts")
    weights = json.loads((outcome.out / "result.json").read_text())["edge_weights"]
    assert weights["epochs"] == [1, 2, 3]
    for rows in weights["weights"].values():
        kept = [sum(w is not None for w in row[:-1]) for row in rows]
        assert kept == [7, 4, 2]  # 7 candidates, then 3 and 2 dropped


def test_the_same_seed_gives_the_same_architecture_and_accuracy(run_search, tmp_path, monkeypatch):
    hide_module(monkeypatch, "matplotlib")
    results = []
    for name in ("first", "second"):
        outcome = run_search("--seed", "3", out=tmp_path / name)
        results.append(json.loads((outcome.out / "result.json").read_text()))
    assert results[0]["architecture"] == results[1]["architecture"]
    assert results[0]["test_accuracy"] == results[1]["test_accuracy"]
    assert results[0]["search_history"] == results[1]["search_history"]


def test_a_folder_of_the_users_images_is_searched_with_its_classes(run_search, tmp_path) -> None:
    pytest.importorskip("PIL")
    pytest.importorskip("matplotlib")
    root = write_images(tmp_path / "images", {"cats": 12, "dogs": 12}, size=(6, 6), mode="RGB")
    outcome = run_search("--data-dir", str(root), "--limit", "24")
    assert outcome.code == 0, outcome.stderr
    result = json.loads((outcome.out / "result.json").read_text())
    assert result["dataset"] == str(root)
    assert result["images"]["shape"] == [3, 6, 6] and result["images"]["classes"] == 2
    assert (outcome.out / "arch.png").exists()


def test_python_m_nasops_search_help_lists_the_algorithms_not_the_testing_options() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "nasops", "search", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    assert "{darts,pdarts,gdas,oneshot,random,spos,enas,proxylessnas}" in completed.stdout
    for option in ("--dataset", "--data-dir", "--epochs", "--seed", "--out", "--device"):
        assert option in completed.stdout
    for hidden in ("--limit", "--retrain-epochs", "--channels", "--batch-size"):
        assert hidden not in completed.stdout
