"""The search's data: digits and ImageFolder trees as [0, 1] tensors, one seeded split into
train, validation and test, standardized without looking at the test images."""

import pytest
import torch
from search_helpers import write_images

from nasops.search import data


def test_digits_are_1797_grayscale_8x8_images_of_10_classes() -> None:
    pytest.importorskip("sklearn")
    digits = data.load_digits()
    assert digits.images.shape == (1797, 1, 8, 8)
    assert digits.shape == (1, 8, 8)
    assert 0.0 <= digits.images.min() and digits.images.max() <= 1.0
    assert digits.classes == [str(d) for d in range(10)]
    assert digits.labels.dtype == torch.int64


def test_an_image_folder_gives_one_label_per_sorted_class_folder(tmp_path) -> None:
    pytest.importorskip("PIL")
    root = write_images(tmp_path, {"b": 2, "a": 3}, size=(5, 4))
    (tmp_path / "a" / "readme.txt").write_text("ignored: not an image")
    images = data.load_image_folder(root)
    assert images.classes == ["a", "b"]
    assert images.labels.tolist() == [0, 0, 0, 1, 1]
    assert images.shape == (1, 4, 5)  # grayscale files: one channel; height 4, width 5
    assert 0.0 <= images.images.min() and images.images.max() <= 1.0


def test_one_colour_file_makes_every_image_rgb(tmp_path) -> None:
    pytest.importorskip("PIL")
    write_images(tmp_path, {"gray": 2}, mode="L")
    write_images(tmp_path, {"colour": 1}, mode="RGB")
    images = data.load_image_folder(tmp_path)
    assert images.shape == (3, 6, 6)
    gray = images.images[images.labels == images.classes.index("gray")]
    assert torch.equal(gray[:, 0], gray[:, 1]) and torch.equal(gray[:, 1], gray[:, 2])


def _numbered(n: int) -> data.ImageData:
    """Image i is filled with i: where each lands in the split can be read off its pixels."""
    images = torch.arange(n, dtype=torch.float32).view(n, 1, 1, 1).expand(n, 1, 2, 2)
    return data.ImageData("numbered", images.contiguous(), torch.arange(n) % 2, ["even", "odd"])


def test_the_split_is_disjoint_complete_and_a_fifth_test() -> None:
    splits = data.split(_numbered(100), seed=0)
    assert (len(splits.train), len(splits.valid), len(splits.test)) == (64, 16, 20)
    assert len(splits.train_and_valid) == 80
    parts = [splits.train, splits.valid, splits.test]
    pixels = torch.cat([part.tensors[0][:, 0, 0, 0] for part in parts])
    assert len(torch.unique(pixels)) == 100  # each of the 100 distinct images in one part
    seen = torch.cat([splits.train.tensors[0], splits.valid.tensors[0]])
    assert seen.mean().item() == pytest.approx(0.0, abs=1e-5)  # standardized on non-test only
    assert seen.std().item() == pytest.approx(1.0, abs=1e-5)


def test_the_split_depends_on_the_seed_only() -> None:
    first, again, other = (data.split(_numbered(50), seed) for seed in (1, 1, 2))
    assert torch.equal(first.test.tensors[0], again.test.tensors[0])
    assert torch.equal(first.train.tensors[1], again.train.tensors[1])
    assert not torch.equal(first.test.tensors[0], other.test.tensors[0])


def test_limit_keeps_that_many_images_of_the_seeded_shuffle() -> None:
    splits = data.split(_numbered(100), seed=0, limit=30)
    assert len(splits.train) + len(splits.valid) + len(splits.test) == 30
