"""What ``nasops search`` was asked to do, checked before any work starts (a bad value fails in
one line, not after a minute of search)."""

from dataclasses import dataclass
from pathlib import Path

import torch

from nasops.search.errors import SearchInputError

WRITE_PROBE = ".nasops-search-write-test"


@dataclass(frozen=True)
class SearchOptions:
    """The command's arguments.

    Attributes:
        algo: a name in :data:`nasops.search.algorithms.ALGORITHMS`.
        data_dir: an ImageFolder tree, or ``None`` for the bundled digits.
        epochs: search epochs (of each stage, for P-DARTS).
        seed: seeds the data split, the weights and every sampler.
        out: the folder for arch.json, result.json, search.png and arch.png.
        device: ``"cpu"``, ``"cuda"``, ``"cuda:N"``, or ``None`` for CUDA when available.
        retrain_epochs: epochs of training the found architecture from scratch.
        limit: use only this many images (after the seeded shuffle); ``None``: all.
        channels: channels of each node in the first cells of the supernet.
        batch_size: of every loader.
        progress: show progress bars.
        dist_timeout: under ``torchrun``, seconds a collective waits for a rank before failing.
        memory: ``"default"`` or ``"recompute"`` (the DARTS family and one-shot search).
        compile: run the supernet's forward under torch.compile (DARTS and P-DARTS).
    """

    algo: str
    data_dir: Path | None
    epochs: int
    seed: int
    out: Path
    device: str | None
    retrain_epochs: int
    limit: int | None = None
    channels: int = 8
    batch_size: int = 64
    progress: bool = True
    dist_timeout: float = 300.0
    memory: str = "default"
    compile: bool = False

    @property
    def dataset(self) -> str:
        """What result.json calls the data: ``digits`` or the folder."""
        return "digits" if self.data_dir is None else str(self.data_dir)


def check_counts(options: SearchOptions) -> None:
    """Every count is positive."""
    counts = {
        "--epochs": options.epochs,
        "--retrain-epochs": options.retrain_epochs,
        "--limit": options.limit,
        "--channels": options.channels,
        "--batch-size": options.batch_size,
        "--dist-timeout": options.dist_timeout,
    }
    for flag, value in counts.items():
        if value is not None and value < 1:
            raise SearchInputError(f"{flag} must be at least 1, got {value}")


def resolve_device(text: str | None) -> torch.device:
    """``text`` as a usable device; ``None`` is CUDA when torch sees one, else the CPU."""
    if text is None:
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(text)
    except RuntimeError:
        raise SearchInputError(
            f"--device {text!r} is not a device; use cpu, cuda or cuda:N"
        ) from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise SearchInputError(f"--device {text!r} is not supported; use cpu, cuda or cuda:N")
    if not torch.cuda.is_available():
        raise SearchInputError(f"--device {text}: torch sees no CUDA device here; use cpu")
    if device.index is not None and device.index >= torch.cuda.device_count():
        raise SearchInputError(
            f"--device {text}: there are {torch.cuda.device_count()} CUDA devices "
            f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})"
        )
    return device


def prepare_out(out: Path) -> None:
    """Create ``out`` and check a file can be written there."""
    if out.exists() and not out.is_dir():
        raise SearchInputError(f"--out {out} is a file; give a folder (it is created if missing)")
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / WRITE_PROBE
        probe.write_text("")
        probe.unlink()
    except OSError as error:
        reason = error.strerror or str(error)
        raise SearchInputError(f"--out {out} cannot be written: {reason}") from None
