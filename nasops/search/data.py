"""The images a search runs on: scikit-learn's bundled digits or the user's ImageFolder tree,
checked, scaled to [0, 1] and split once by seed into train, validation and test sets.
"""

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import TensorDataset

from nasops.search.errors import SearchInputError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm")
GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
TEST_FRACTION = 0.2  # of all images: the held-out test of the retrained network
VALID_FRACTION = 0.2  # of the rest: what the search validates on each epoch
MIN_IMAGES = 10


@dataclass(frozen=True)
class ImageData:
    """Every image of a dataset as one float tensor ``N x C x H x W`` in [0, 1], with labels."""

    name: str
    images: torch.Tensor
    labels: torch.Tensor
    classes: list[str]

    @property
    def shape(self) -> tuple[int, int, int]:
        """``(channels, height, width)`` of one image."""
        _, channels, height, width = self.images.shape
        return channels, height, width


@dataclass(frozen=True)
class Splits:
    """The three disjoint parts of a dataset, standardized with the non-test images' statistics."""

    train: TensorDataset
    valid: TensorDataset
    test: TensorDataset

    @property
    def train_and_valid(self) -> TensorDataset:
        """Every non-test image: what the found architecture is retrained on."""
        return TensorDataset(
            *(torch.cat(pair) for pair in zip(self.train.tensors, self.valid.tensors, strict=True))
        )


def load_digits() -> ImageData:
    """scikit-learn's 1797 8x8 grayscale digits (bundled with scikit-learn: no download)."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise SearchInputError.missing_extra(
            "scikit-learn", "the digits dataset", "search"
        ) from None
    digits = sklearn_digits()
    images = torch.tensor(digits.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.tensor(digits.target, dtype=torch.int64)
    return ImageData("digits", images, labels, [str(c) for c in digits.target_names])


def load_image_folder(root: Path) -> ImageData:
    """Images in ``root/<class>/<file>`` (torchvision's ImageFolder layout), one label a folder.

    Every image must have the same size. Grayscale files give one channel; if any file has
    colour, all are read as RGB. Files with other suffixes are ignored.
    """
    files_by_class = _class_files(root)
    try:
        from PIL import Image
    except ImportError:
        raise SearchInputError.missing_extra("pillow", "--data-dir", "search") from None
    arrays, labels, first = [], [], None
    for label, files in enumerate(files_by_class.values()):
        for path in files:
            array = _read(path, Image)
            if first is None:
                first = (path, array.shape[:2])
            elif array.shape[:2] != first[1]:
                raise SearchInputError(
                    f"--data-dir {root}: images differ in size: {first[0]} is {_size(first[1])} "
                    f"but {path} is {_size(array.shape)}; resize them to one size first"
                )
            arrays.append(array)
            labels.append(label)
    if any(a.ndim == 3 for a in arrays):
        arrays = [a if a.ndim == 3 else np.repeat(a[..., None], 3, axis=-1) for a in arrays]
        images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)
    else:
        images = torch.from_numpy(np.stack(arrays)).unsqueeze(1)
    images = images.float().div(255.0).contiguous()
    return ImageData(str(root), images, torch.tensor(labels), list(files_by_class))


def split(data: ImageData, seed: int, limit: int | None = None) -> Splits:
    """Shuffle with ``seed`` (keeping the first ``limit`` images if given), then split.

    Test takes ``TEST_FRACTION`` of the images, validation ``VALID_FRACTION`` of the rest, and
    train the remainder. Each channel is standardized with the mean and deviation of the
    non-test images, so the test set stays unseen.
    """
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data.labels), generator=generator)[:limit]
    if len(order) < MIN_IMAGES:
        raise SearchInputError(
            f"{data.name}: {len(order)} images are too few to split into train, validation and "
            f"test; at least {MIN_IMAGES} are needed"
        )
    images, labels = data.images[order], data.labels[order]
    n_test = max(1, round(TEST_FRACTION * len(order)))
    n_valid = max(1, round(VALID_FRACTION * (len(order) - n_test)))
    seen = images[n_test:]
    mean = seen.mean(dim=(0, 2, 3), keepdim=True)
    std = seen.std(dim=(0, 2, 3), keepdim=True).clamp_min(1e-6)
    images = (images - mean) / std
    parts = (slice(n_test + n_valid, None), slice(n_test, n_test + n_valid), slice(0, n_test))
    return Splits(*(TensorDataset(images[part], labels[part]) for part in parts))


def _class_files(root: Path) -> dict[str, list[Path]]:
    if not root.is_dir():
        what = "does not exist" if not root.exists() else "is not a folder"
        raise SearchInputError(
            f"--data-dir {root} {what}; give a folder with one subfolder of images per class"
        )
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    files_by_class = {
        folder.name: sorted(
            p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
        )
        for folder in folders
    }
    with_images = [name for name, files in files_by_class.items() if files]
    if len(with_images) < 2:
        found = (
            f"only class folder {with_images[0]!r} has" if with_images else "no class folder has"
        )
        raise SearchInputError(
            f"--data-dir {root}: {found} images; give at least two subfolders (one per class) "
            f"holding image files ({', '.join(IMAGE_SUFFIXES)})"
        )
    empty = [name for name, files in files_by_class.items() if not files]
    if empty:
        raise SearchInputError(
            f"--data-dir {root}: class folder {empty[0]!r} has no image files; remove it or add "
            "images"
        )
    return files_by_class


def _read(path: Path, image_module: Any) -> np.ndarray:
    """``H x W`` for a grayscale file, ``H x W x 3`` for any other."""
    try:
        with image_module.open(path) as image:
            mode = "L" if image.mode in GRAY_MODES else "RGB"
            return np.asarray(image.convert(mode), dtype=np.uint8)
    except OSError as error:
        raise _unreadable(path, error) from None


def _unreadable(path: Path, error: OSError) -> SearchInputError:
    reason = str(error).splitlines()[0] if str(error) else type(error).__name__
    return SearchInputError(f"--data-dir: cannot read image {path}: {reason}")


def _size(shape: tuple[int, ...]) -> str:
    return f"{shape[1]}x{shape[0]}"
