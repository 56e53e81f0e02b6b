"""``supernet.png``: the supernet level's paths drawn, with and without peaks, and written by
``nasops bench --levels supernet``."""

from pathlib import Path

import pytest

from nasops.bench import supernet, supernet_plot
from nasops.cli import main

matplotlib_image = pytest.importorskip("matplotlib.image")
pytest.importorskip("tqdm")


def _rows(peaks: bool) -> list[dict]:
    return [
        {
            "path": path,
            "median_ms": 10.0 + i,
            "min_ms": 9.0 + i,
            "max_ms": 12.0 + i,
            "speedup_vs_nni_path": 1.0,
            "peak_mib": 5.0 + i if peaks else None,
        }
        for i, path in enumerate(supernet.PATHS)
    ]


def _image_size(path: Path) -> tuple[int, int]:
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    height, width = matplotlib_image.imread(path).shape[:2]
    return height, width


@pytest.mark.parametrize("peaks", [True, False])
def test_the_picture_has_a_peak_panel_only_when_peaks_were_measured(tmp_path, peaks) -> None:
    out = tmp_path / "supernet.png"
    supernet_plot.write_png(out, _rows(peaks), "title")
    height, width = _image_size(out)
    assert height > 100
    assert (width > 1.5 * height) is peaks  # two panels side by side, or one


def test_nasops_bench_writes_the_supernet_picture(
    tmp_path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setattr(supernet, "QUICK", supernet.SupernetConfig(2, 4, 8, 2))
    # The compiled path without compiling, and every peak in this process, to keep it short.
    monkeypatch.setattr(
        supernet, "TRAINER_OPTIONS", {**supernet.TRAINER_OPTIONS, supernet.COMPILED_PATH: {}}
    )
    monkeypatch.setattr(
        supernet,
        "peaks_in_fresh_processes",
        lambda config, device, threads, paths: dict.fromkeys(paths, 2**20),
    )
    args = ["bench", "--levels", "supernet", "--quick", "--max-reps", "1", "--no-progress"]
    assert main([*args, "--threads", "1", "--out", str(tmp_path)]) == 0
    assert _image_size(tmp_path / "supernet.png")[0] > 100
    assert not (tmp_path / "bench.png").exists()  # no ops level, no ops picture
    assert "wrote bench.json, bench.md, supernet.png in" in capsys.readouterr().out
