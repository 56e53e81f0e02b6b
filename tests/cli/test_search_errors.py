"""Bad input to ``nasops search`` gets one clear line on stderr and exit code 2, never a
traceback, and before any search runs."""

from pathlib import Path

import pytest
import torch
from search_helpers import assert_one_line_error, write_images

from nasops.cli import main

pytest.importorskip("PIL")


def test_an_unknown_algorithm_gets_argparses_usage_and_invalid_choice(capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["search", "--algo", "nope"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("usage: nasops search")
    assert "argument --algo: invalid choice: 'nope'" in err.strip().splitlines()[-1]
    assert "Traceback" not in err


def test_a_missing_data_dir_is_named(run_search, tmp_path) -> None:
    missing = tmp_path / "no-such-folder"
    outcome = run_search("--data-dir", str(missing))
    assert_one_line_error(outcome, f"--data-dir {missing} does not exist", "one subfolder")
    assert not outcome.out.exists()


def test_a_data_dir_that_is_a_file_is_named(run_search, tmp_path) -> None:
    path = tmp_path / "file.txt"
    path.write_text("x")
    assert_one_line_error(run_search("--data-dir", str(path)), "is not a folder")


def test_an_empty_data_dir_is_named(run_search, tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    assert_one_line_error(
        run_search("--data-dir", str(tmp_path / "empty")), "no class folder has images"
    )


def test_class_folders_without_image_files_are_no_dataset(run_search, tmp_path) -> None:
    for name in ("a", "b"):
        (tmp_path / "tree" / name).mkdir(parents=True)
        (tmp_path / "tree" / name / "notes.txt").write_text("not an image")
    assert_one_line_error(run_search("--data-dir", str(tmp_path / "tree")), "no class folder has")


def test_a_single_class_is_not_enough(run_search, tmp_path) -> None:
    root = write_images(tmp_path / "tree", {"only": 12})
    assert_one_line_error(
        run_search("--data-dir", str(root)), "only class folder 'only' has images", "two"
    )


def test_an_empty_class_folder_among_others_is_named(run_search, tmp_path) -> None:
    root = write_images(tmp_path / "tree", {"a": 6, "b": 6})
    (root / "c").mkdir()
    assert_one_line_error(run_search("--data-dir", str(root)), "class folder 'c' has no image")


def test_images_of_mixed_sizes_name_two_files_and_their_sizes(run_search, tmp_path) -> None:
    root = write_images(tmp_path / "tree", {"a": 6, "b": 6}, size=(6, 6))
    write_images(root, {"b_big": 1}, size=(9, 7))
    line = assert_one_line_error(run_search("--data-dir", str(root)), "differ in size")
    assert f"{root / 'a' / '0.png'} is 6x6" in line
    assert f"{root / 'b_big' / '0.png'} is 9x7" in line


def test_an_unreadable_image_is_named(run_search, tmp_path) -> None:
    root = write_images(tmp_path / "tree", {"a": 6, "b": 6})
    (root / "b" / "broken.png").write_bytes(b"this is no png")
    assert_one_line_error(
        run_search("--data-dir", str(root)), f"cannot read image {root / 'b' / 'broken.png'}"
    )


def test_an_out_folder_that_cannot_be_created_is_named(run_search, tmp_path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = blocker / "out"
    assert_one_line_error(run_search(out=out), f"--out {out} cannot be written")


def test_an_out_path_that_is_a_file_is_named(run_search, tmp_path) -> None:
    path = tmp_path / "result.txt"
    path.write_text("x")
    assert_one_line_error(run_search(out=path), f"--out {path} is a file")


@pytest.mark.parametrize("flag", ["--epochs", "--retrain-epochs", "--limit"])
def test_counts_below_one_are_refused(run_search, flag) -> None:
    assert_one_line_error(run_search(flag, "0"), f"{flag} must be at least 1, got 0")


def test_too_few_images_to_split_are_refused(run_search) -> None:
    assert_one_line_error(run_search("--limit", "5"), "5 images are too few", "at least 10")


def test_a_device_that_is_no_device_is_named(run_search) -> None:
    assert_one_line_error(run_search("--device", "gpu0"), "--device 'gpu0' is not a device")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_cuda_device_is_refused(run_search) -> None:
    assert_one_line_error(run_search("--device", "cuda"), "torch sees no CUDA device")


def test_errors_come_before_the_search_writes_anything(run_search, tmp_path: Path) -> None:
    outcome = run_search("--epochs", "0")
    assert outcome.stdout == ""
    assert not outcome.out.exists()
