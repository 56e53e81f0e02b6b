"""Optional packages: without matplotlib the PNGs are skipped with a note, without
scikit-learn the digits cannot load (the user's images still can), without pillow the user's
images cannot; each names the ``pip install 'nasops[search]'`` line that adds it."""

import json

import pytest
from search_helpers import assert_one_line_error, hide_module, write_images

PIP_LINE = "pip install 'nasops[search]'"


def test_without_matplotlib_the_pictures_are_skipped_with_a_note(run_search, monkeypatch) -> None:
    pytest.importorskip("sklearn")
    hide_module(monkeypatch, "matplotlib")
    outcome = run_search()
    assert outcome.code == 0, outcome.stderr
    assert sorted(p.name for p in outcome.out.iterdir()) == ["arch.json", "result.json"]
    notes = [line for line in outcome.stdout.splitlines() if line.startswith("note:")]
    assert len(notes) == 1
    assert "matplotlib" in notes[0] and PIP_LINE in notes[0]
    assert "test accuracy:" in outcome.stdout


def test_without_scikit_learn_the_digits_are_refused_with_the_pip_line(
    run_search, monkeypatch
) -> None:
    hide_module(monkeypatch, "sklearn")
    assert_one_line_error(run_search(), "digits", "scikit-learn", PIP_LINE)


def test_without_scikit_learn_the_users_images_still_work(run_search, tmp_path, monkeypatch):
    pytest.importorskip("PIL")
    root = write_images(tmp_path / "tree", {"a": 8, "b": 8})
    hide_module(monkeypatch, "sklearn", "matplotlib")
    outcome = run_search("--data-dir", str(root))
    assert outcome.code == 0, outcome.stderr
    assert json.loads((outcome.out / "result.json").read_text())["images"]["classes"] == 2


def test_without_pillow_the_users_images_are_refused_with_the_pip_line(
    run_search, tmp_path, monkeypatch
) -> None:
    pytest.importorskip("PIL")
    root = write_images(tmp_path / "tree", {"a": 8, "b": 8})
    hide_module(monkeypatch, "PIL")
    assert_one_line_error(run_search("--data-dir", str(root)), "pillow", PIP_LINE)
