"""Helpers of the ``nasops search`` tests: the tiny run's arguments, its outcome, image
folders, hiding an installed package, and the one-line error check."""

import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

# One epoch each way on 40 digits, a 2-channel supernet: a second or two per run.
TINY = [
    "--epochs",
    "1",
    "--retrain-epochs",
    "1",
    "--limit",
    "40",
    "--channels",
    "2",
    "--batch-size",
    "8",
    "--no-progress",
]


@dataclass
class Outcome:
    """What one in-process ``nasops search`` call returned and printed."""

    code: int
    out: Path
    stdout: str
    stderr: str


def write_images(
    root: Path, classes: dict[str, int], size: tuple[int, int] = (6, 6), mode: str = "L"
) -> Path:
    """``root/<class>/<i>.png``: ``classes[name]`` random images per class, all ``size``."""
    from PIL import Image

    generator = np.random.default_rng(0)
    channels = {"L": (), "RGB": (3,)}[mode]
    for name, count in classes.items():
        folder = root / name
        folder.mkdir(parents=True, exist_ok=True)
        for index in range(count):
            pixels = generator.integers(0, 256, size=(size[1], size[0], *channels), dtype=np.uint8)
            Image.fromarray(pixels).save(folder / f"{index}.png")  # uint8: L or RGB
    return root


def hide_module(monkeypatch: pytest.MonkeyPatch, *names: str) -> None:
    """Make ``import name`` fail as if the package were not installed (its loaded submodules
    included), for the rest of the test."""
    for name in names:
        for loaded in [m for m in sys.modules if m == name or m.startswith(f"{name}.")]:
            monkeypatch.setitem(sys.modules, loaded, None)
        monkeypatch.setitem(sys.modules, name, None)


def assert_one_line_error(outcome: Outcome, *fragments: str) -> str:
    """Exit code 2 and exactly one stderr line, ``nasops search: ...``, holding ``fragments``."""
    assert outcome.code == 2, outcome.stdout + outcome.stderr
    lines = outcome.stderr.strip().splitlines()
    assert len(lines) == 1, outcome.stderr
    assert lines[0].startswith("nasops search: ")
    assert "Traceback" not in outcome.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    return lines[0]
