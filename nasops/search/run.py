"""``nasops search`` end to end: data, search, export, retrain from scratch, test, files, report."""

import json
import platform
import random
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

import nasops
from nasops import distributed
from nasops.fixed import apply_fixed_architecture
from nasops.mutables import LayerChoice
from nasops.search import data, genotype
from nasops.search.algorithms import (
    ALGORITHMS,
    SearchSetup,
    build_trainer,
    check_lean_options,
)
from nasops.search.options import SearchOptions, check_counts, prepare_out, resolve_device
from nasops.search.recorder import SearchRecorder
from nasops.search.retrain import count_correct, retrain
from nasops.search.supernet import SearchSupernet
from nasops.utils import _reset_global_mutable_counting

LAYERS = 2  # a normal and a reduction cell (P-DARTS adds cells in later stages)
N_NODES = 2
RETRAIN_WIDTH = 2  # the retrained network has twice the search's channels, as DARTS retrains wider
MAX_THREADS = 1  # ops this small run slower on two threads, and far slower when cores are shared


def search(options: SearchOptions) -> dict[str, Any]:
    """Run the whole command; returns what result.json holds.

    Raises :class:`~nasops.search.errors.SearchInputError` for bad input, before the search
    starts wherever it can be known then.
    """
    check_counts(options)
    check_lean_options(ALGORITHMS[options.algo], options.memory, options.compile)
    device = resolve_device(options.device)
    images = (
        data.load_digits() if options.data_dir is None else data.load_image_folder(options.data_dir)
    )
    if distributed.launched_distributed():
        device = distributed.init_from_env(device, options.dist_timeout)
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(min(previous_threads, MAX_THREADS))
    try:
        if distributed.is_main_process():
            prepare_out(options.out)
        return _search(options, images, device)
    except Exception as error:
        distributed.report_failure(f"{type(error).__name__}: {error}")
        raise
    finally:
        torch.set_num_threads(previous_threads)  # main() called as a function leaves no trace
        distributed.leave(wait=False)  # after a failure: without waiting for the others


def _search(options: SearchOptions, images: data.ImageData, device: torch.device) -> dict[str, Any]:
    _seed_everything(options.seed)
    splits = data.split(images, options.seed, options.limit)
    main, world = distributed.is_main_process(), distributed.get_world_size()
    say = _printer(options.progress) if main else _silent
    say(_headline(options, images, splits, device))
    algorithm = ALGORITHMS[options.algo]
    build_model = _supernet_builder(images, options.channels, algorithm.space)
    choices = genotype.choices_of(build_model(LAYERS))
    recorder = SearchRecorder(
        {key: c.names for key, c in choices.items() if isinstance(c, LayerChoice)},
        algorithm.learns_weights,
        algorithm.staged,
        report=lambda record: say(_epoch_line(record, options.epochs, algorithm.staged)),
    )
    setup = SearchSetup(
        build_model,
        LAYERS,
        splits.train,
        splits.valid,
        options.epochs,
        options.batch_size,
        device,
        [recorder],
        options.progress and main,
        options.memory,
        options.compile,
    )
    started = time.perf_counter()
    architecture = _search_and_export(setup, options, choices)
    search_seconds = time.perf_counter() - started
    if architecture is None:  # another rank of a distributed search: rank 0 does the rest
        return {}
    say(f"search: {search_seconds:.1f} s" + (f" on {world} ranks" if world > 1 else ""))

    torch.manual_seed(options.seed)
    retrain_channels = RETRAIN_WIDTH * options.channels
    model = _supernet_builder(images, retrain_channels, algorithm.space)(LAYERS)
    apply_fixed_architecture(model, architecture, verbose=False)
    started = time.perf_counter()
    retrain_history = retrain(
        model,
        splits.train_and_valid,
        options.retrain_epochs,
        options.batch_size,
        device,
        options.progress,
    )
    correct, total = count_correct(model, splits.test, options.batch_size, device)
    retrain_seconds = time.perf_counter() - started
    say(
        f"retrain: {options.retrain_epochs} epochs from scratch, {retrain_channels} channels, on "
        f"{len(splits.train_and_valid)} images in {retrain_seconds:.1f} s (last epoch: loss "
        f"{retrain_history[-1]['loss']:.3f}, train acc {retrain_history[-1]['acc']:.3f})"
    )

    result = {
        "algorithm": options.algo,
        "seed": options.seed,
        "epochs": options.epochs,
        "retrain_epochs": options.retrain_epochs,
        "channels": {"search": options.channels, "retrain": retrain_channels},
        "dataset": options.dataset,
        "images": {
            "shape": list(images.shape),
            "classes": len(images.classes),
            "train": len(splits.train),
            "valid": len(splits.valid),
            "test": len(splits.test),
        },
        "device": str(device),
        "ranks": world,
        "backend": nasops.extension_info()["backend"],
        "memory": options.memory,
        "compile": options.compile,
        "versions": _versions(),
        "search_seconds": round(search_seconds, 2),
        "retrain_seconds": round(retrain_seconds, 2),
        "test_accuracy": correct / total,
        "architecture": architecture,
        "search_history": recorder.history,
        "retrain_history": retrain_history,
    }
    if algorithm.learns_weights:
        result["edge_weights"] = {"epochs": recorder.weight_epochs, "weights": recorder.weights}
    (options.out / "result.json").write_text(json.dumps(result, indent=1) + "\n")
    cells = genotype.cells(architecture, choices)
    pictures = _write_pictures(options, recorder, cells, result, say)

    say("architecture:")
    for line in genotype.describe(cells):
        say(f"  {line}")
    say(f"test accuracy: {correct / total:.4f} ({correct}/{total} held-out images)")
    written = ", ".join(str(options.out / name) for name in ["arch.json", "result.json", *pictures])
    say(f"wrote {written}")
    return result


def _search_and_export(
    setup: SearchSetup, options: SearchOptions, choices: dict[str, genotype.Choice]
) -> dict[str, Any] | None:
    """Train the trainer of ``--algo``, write its export to arch.json in the readable form
    (P-DARTS exports multi-hot lists), and return that architecture; ``None`` on the ranks
    other than 0 of a distributed search, which write nothing."""
    trainer = build_trainer(options.algo, setup)
    trainer.train()
    arch_path = options.out / "arch.json"
    trainer.export(str(arch_path))
    main = distributed.is_main_process()
    distributed.leave()  # rank 0 alone retrains and tests the architecture
    if not main:
        return None
    architecture = genotype.readable(json.loads(arch_path.read_text()), choices)
    arch_path.write_text(json.dumps(architecture, indent=2) + "\n")
    return architecture


def _silent(_: str) -> None:
    """The printer of the ranks other than 0."""


def _versions() -> dict[str, str]:
    return {
        "nasops": nasops.__version__,
        "torch": torch.__version__,
        "python": platform.python_version(),
    }


def _seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def _supernet_builder(
    images: data.ImageData, channels: int, space: str
) -> Callable[[int], nn.Module]:
    in_channels, height, width = images.shape

    def build(layers: int) -> nn.Module:
        # Every build restarts the key counter, so each supernet has the same keys.
        _reset_global_mutable_counting()
        return SearchSupernet(
            in_channels,
            (height, width),
            len(images.classes),
            channels,
            N_NODES,
            layers,
            space=space,
        )

    return build


def _write_pictures(
    options: SearchOptions,
    recorder: SearchRecorder,
    cells: list[genotype.Cell],
    result: dict[str, Any],
    say: Callable[[str], None],
) -> list[str]:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        say(
            "note: search.png and arch.png skipped: matplotlib is not installed; add it with "
            "`pip install 'nasops[search]'`"
        )
        return []
    from nasops.search import plots

    title = (
        f"nasops search --algo {options.algo} on {options.dataset}: "
        f"test accuracy {result['test_accuracy']:.3f}"
    )
    plots.write_search_png(options.out / "search.png", recorder, title, cells)
    plots.write_arch_png(
        options.out / "arch.png", cells, title, genotype.CAPTIONS[ALGORITHMS[options.algo].space]
    )
    return ["search.png", "arch.png"]


def _headline(
    options: SearchOptions, images: data.ImageData, splits: data.Splits, device: torch.device
) -> str:
    channels, height, width = images.shape
    return (
        f"nasops search --algo {options.algo}: {options.dataset}, {channels}x{height}x{width} "
        f"images in {len(images.classes)} classes ({len(splits.train)} train, "
        f"{len(splits.valid)} validation, {len(splits.test)} test), device {device}, "
        f"ops {nasops.extension_info()['backend']}, {_count(torch.get_num_threads(), 'thread')}"
    )


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _epoch_line(record: dict[str, Any], epochs: int, staged: bool) -> str:
    train, valid = record["train"], record["valid"]
    where = (
        f"stage {record['stage'] + 1} epoch {(record['epoch'] - 1) % epochs + 1}/{epochs}"
        if staged
        else f"epoch {record['epoch']}/{epochs}"
    )
    return (
        f"search {where}  loss {train.get('loss', float('nan')):.3f}  "
        f"train acc {train.get('acc', float('nan')):.3f}  "
        f"valid acc {valid.get('acc', float('nan')):.3f}"
    )


def _printer(progress: bool) -> Callable[[str], None]:
    if not progress:
        return print
    from tqdm.auto import tqdm

    return tqdm.write
