"""``nasops bench --quick`` on tiny sizes writes a well-formed JSON, Markdown and PNG."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import nasops
from nasops.cli import main

pytest.importorskip("matplotlib")
pytest.importorskip("tqdm")

ROOT = Path(__file__).resolve().parents[2]
TINY = ["--sizes", "10", "--max-reps", "2", "--no-progress"]


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("bench")
    threads = torch.get_num_threads()
    assert main(["bench", "--quick", "--threads", "1", "--out", str(out), *TINY]) == 0
    assert torch.get_num_threads() == threads, "nasops bench must restore the thread count"
    return out


def test_bench_json_has_machine_info_and_a_row_per_case_and_method(quick_run) -> None:
    data = json.loads((quick_run / "bench.json").read_text())
    machine = data["machine"]
    for key in ("cpu_model", "logical_cores", "threads", "torch", "nasops_extension", "allocator"):
        assert key in machine
    assert machine["threads"] == 1
    assert machine["nasops_extension"]["backend"] in ("compiled", "fallback")
    rows = data["levels"]["ops"]["rows"]
    assert {r["k"] for r in rows} == {2, 4, 8}
    assert {r["reduction"] for r in rows} == {"sum", "mean", "concat"}
    assert {r["mode"] for r in rows} == {"forward", "forward+backward"}
    sum_methods = {r["method"] for r in rows if r["reduction"] == "sum"}
    assert sum_methods == {
        "nasops",
        "nasops_out",
        "python_sum",
        "stack_sum",
        "nni3_loop",
        "stock",
        "copy",
        "triad",
    }
    assert {r["mode"] for r in rows if r["method"] == "nasops_out"} == {"forward"}
    for row in rows:
        assert row["median_ms"] > 0 and row["useful_gbs"] > 0
        assert row["min_ms"] <= row["median_ms"] <= row["max_ms"]
        assert row["peak_bytes"] is not None and row["peak_bytes"] >= 0
        if row["method"] == "triad":
            assert row["ratio_to_triad"] == pytest.approx(1.0)
        if row["kind"] != "baseline":
            assert row["fused_speedup"] > 0


def test_bench_json_has_both_levels_with_real_rows(quick_run) -> None:
    levels = json.loads((quick_run / "bench.json").read_text())["levels"]
    assert list(levels) == ["ops", "mutables"]
    mutables = levels["mutables"]
    assert not mutables["skipped"]
    cases = [row["case"] for row in mutables["rows"]]
    assert cases[:3] == ["LayerChoice, 1 of 4", "InputChoice, 1 of 4", "InputChoice, 2 of 4 summed"]
    assert [c.split(",")[0] for c in cases[3:]] == ["DARTS cell step", "DARTS cell step"]
    assert all(row["nasops_us"] > 0 and row["nni_path_us"] > 0 for row in mutables["rows"])


def test_bench_markdown_states_the_machine_and_has_the_tables(quick_run) -> None:
    text = (quick_run / "bench.md").read_text()
    assert text.startswith("# nasops bench")
    assert "nasops bench --quick" in text
    assert "allocator:" in text
    if nasops.has_extension():
        assert f"CPU loops {nasops.extension_info()['cpu_loops']}" in text
    assert "### Headline" in text and "### Peak memory" in text
    assert "| sum | forward | 2 |" in text


def test_bench_png_is_an_image(quick_run) -> None:
    import matplotlib.image

    data = (quick_run / "bench.png").read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    image = matplotlib.image.imread(quick_run / "bench.png")
    assert image.shape[0] > 100 and image.shape[1] > 100


def test_bench_rejects_an_unknown_level(tmp_path, capsys) -> None:
    assert main(["bench", "--levels", "ops,nope", "--out", str(tmp_path), *TINY]) == 2
    assert "nope" in capsys.readouterr().err


def test_info_prints_the_backend_as_json(capsys) -> None:
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["extension"]["backend"] in ("compiled", "fallback")
    assert info["threads"] >= 1


def test_import_nasops_and_its_cli_never_import_matplotlib() -> None:
    code = (
        "import sys, nasops, nasops.cli, nasops.bench.levels; "
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_python_dash_m_nasops_runs_the_cli() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "nasops", "info"],
        check=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert "backend:" in done.stdout
