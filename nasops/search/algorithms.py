"""The ``--algo`` table: for each name, the search space, the trainer it builds and how (the one
place to add an algorithm).
"""

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Dataset

from nasops import distributed
from nasops.callbacks import Callback, LRSchedulerCallback
from nasops.search.errors import SearchInputError

WEIGHT_LR = 0.05
WEIGHT_MOMENTUM = 0.9
WEIGHT_DECAY = 3.0e-4
ARC_LR = 3.0e-3  # NNI's 3e-4 barely moves the logits in a search of a few epochs
PDARTS_NUM_LAYERS = (0, 1, 2)  # cells added at each P-DARTS stage
PDARTS_NUM_TO_DROP = (3, 2, 1)  # candidates dropped after each stage: 7 -> 4 -> 2 -> 1
RANKED_CANDIDATES = 32  # architectures random and one-shot search score after training
SPOS_EVOLUTION = {  # 3 rounds of 16 candidates: about 40 scored on the validation data
    "max_epochs": 3,
    "num_select": 4,
    "num_population": 16,
    "num_crossover": 6,
    "num_mutation": 6,
}
ENAS_AGGREGATE = 5  # controller samples per controller step
ENAS_CONTROLLER_SHARE = 10  # one controller step per this many weight steps


@dataclass
class SearchSetup:
    """Everything a trainer is built from.

    Attributes:
        build_model: ``build_model(layers)`` returns a fresh supernet with ``layers`` cells.
        layers: the supernet's cells (P-DARTS starts there and grows).
        train: what the search trains on (split in halves by the DARTS family).
        valid: what each epoch validates on (and random and one-shot search rank on).
        epochs: epochs of the search (of each stage, for P-DARTS).
        batch_size: of every loader.
        device: where the search runs.
        callbacks: observers of each epoch (of each stage, for P-DARTS).
        progress: show progress bars.
        memory: the trainers' ``memory=`` (``"default"`` or ``"recompute"``).
        compile: the DARTS family's ``compile=``.
    """

    build_model: Callable[[int], nn.Module]
    layers: int
    train: Dataset
    valid: Dataset
    epochs: int
    batch_size: int
    device: torch.device
    callbacks: list[Callback] = field(default_factory=list)
    progress: bool = True
    memory: str = "default"
    compile: bool = False


@dataclass(frozen=True)
class Algorithm:
    """One ``--algo`` entry.

    Attributes:
        name: the ``--algo`` value.
        module: the nasops module holding its trainer.
        build: ``build(module, setup)`` returns the trainer, ready for ``train()`` and
            ``export(file)``.
        learns_weights: a DARTS-family search, with softmax weights per edge to record.
        staged: the trainer runs stages, each a trainer of its own (P-DARTS): its callbacks are
            told about stages, and each stage's trainer is its ``trainer`` attribute.
        summary: one line for ``--help``.
        space: the supernet's cells, one of :data:`nasops.search.supernet.SPACES`.
        recomputes: its trainer takes ``memory="recompute"`` (its LayerChoices mix candidates).
        compiles: its trainer takes ``compile=`` (a sampling search stays eager: each step's
            architecture is another graph).
    """

    name: str
    module: str
    build: Callable[[ModuleType, SearchSetup], Any]
    learns_weights: bool
    summary: str
    staged: bool = False
    space: str = "darts"
    recomputes: bool = False
    compiles: bool = False


def accuracy(logits: torch.Tensor, target: torch.Tensor) -> dict[str, float]:
    """The metrics every trainer reports: ``{"acc": fraction of correct top-1 predictions}``."""
    return {"acc": (logits.argmax(dim=1) == target).float().mean().item()}


def weight_sgd(model: nn.Module) -> torch.optim.Optimizer:
    """SGD with momentum and weight decay on the model's weights (the DARTS recipe)."""
    return torch.optim.SGD(
        model.parameters(), WEIGHT_LR, momentum=WEIGHT_MOMENTUM, weight_decay=WEIGHT_DECAY
    )


def weight_optimizer(model: nn.Module, epochs: int) -> tuple[torch.optim.Optimizer, Any]:
    """:func:`weight_sgd`, its learning rate cosine-annealed over ``epochs``."""
    optimizer = weight_sgd(model)
    return optimizer, torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, epochs)


def _common(setup: SearchSetup) -> tuple[nn.Module, dict[str, Any]]:
    """A fresh model and the arguments every NNI-style trainer takes, the scheduler's callback
    included."""
    model = setup.build_model(setup.layers)
    optimizer, scheduler = weight_optimizer(model, setup.epochs)
    arguments = {
        "model": model,
        "loss": nn.CrossEntropyLoss(),
        "metrics": accuracy,
        "optimizer": optimizer,
        "num_epochs": setup.epochs,
        "dataset_train": setup.train,
        "dataset_valid": setup.valid,
        "batch_size": setup.batch_size,
        "workers": 0,
        "device": setup.device,
        "callbacks": [LRSchedulerCallback(scheduler), *setup.callbacks],
    }
    return model, arguments


def _ready_loaders(setup: SearchSetup) -> tuple[DataLoader, DataLoader]:
    """The loaders for the trainers that take them ready-made (SPOS, ProxylessNAS): the
    training data shuffled, and under torch.distributed each rank's shard of it."""
    if distributed.is_distributed():
        shard = distributed.ShardSampler(range(len(setup.train)))
        train = DataLoader(setup.train, batch_size=setup.batch_size, sampler=shard)
    else:
        train = DataLoader(setup.train, batch_size=setup.batch_size, shuffle=True)
    return train, DataLoader(setup.valid, batch_size=setup.batch_size)


def _with_progress(trainer: Any, setup: SearchSetup) -> Any:
    trainer.progress = setup.progress
    return trainer


def _darts(module: ModuleType, setup: SearchSetup) -> Any:
    _, arguments = _common(setup)
    trainer = module.DartsTrainer(
        **arguments, arc_learning_rate=ARC_LR, memory=setup.memory, compile=setup.compile
    )
    return _with_progress(trainer, setup)


def _gdas(module: ModuleType, setup: SearchSetup) -> Any:
    _, arguments = _common(setup)
    return _with_progress(module.GdasTrainer(**arguments, arc_learning_rate=ARC_LR), setup)


def _oneshot(module: ModuleType, setup: SearchSetup) -> Any:
    _, arguments = _common(setup)
    trainer = module.OneshotTrainer(
        **arguments, num_candidates=RANKED_CANDIDATES, memory=setup.memory
    )
    return _with_progress(trainer, setup)


def _random(module: ModuleType, setup: SearchSetup) -> Any:
    _, arguments = _common(setup)
    trainer = module.RandomTrainer(**arguments, num_candidates=RANKED_CANDIDATES)
    return _with_progress(trainer, setup)


def _enas(module: ModuleType, setup: SearchSetup) -> Any:
    _, arguments = _common(setup)
    # An epoch passes over the 90% of the training data the weights train on (EnasTrainer's
    # split), and trains the controller on held-out batches a tenth as often.
    child_steps = max(1, math.ceil(0.9 * len(setup.train) / setup.batch_size))
    mutator = module.EnasMutator(arguments["model"], tanh_constant=1.1, cell_exit_extra_step=True)
    trainer = module.EnasTrainer(
        **arguments,
        reward_function=lambda logits, y: accuracy(logits, y)["acc"],
        mutator=mutator,
        child_steps=child_steps,
        mutator_steps_aggregate=ENAS_AGGREGATE,
        mutator_steps=max(1, child_steps // ENAS_CONTROLLER_SHARE),
    )
    return _with_progress(trainer, setup)


def _proxylessnas(module: ModuleType, setup: SearchSetup) -> Any:
    model = setup.build_model(setup.layers)
    optimizer = weight_sgd(model)  # the trainer sets its learning rate every batch
    train, valid = _ready_loaders(setup)
    trainer = module.ProxylessNasTrainer(
        model,
        optimizer,
        setup.device,
        train,
        valid,
        n_epochs=setup.epochs,
        init_lr=WEIGHT_LR,
        warmup=False,
        callbacks=setup.callbacks,
    )
    trainer.metrics = accuracy  # the "acc" every other algorithm reports (NNI's is "acc1")
    return _with_progress(trainer, setup)


def _spos(module: ModuleType, setup: SearchSetup) -> Any:
    _, arguments = _common(setup)
    train, valid = _ready_loaders(setup)
    for name in ("dataset_train", "dataset_valid", "batch_size"):
        del arguments[name]
    trainer = module.SPOSSupernetTrainer(**arguments, train_loader=train, valid_loader=valid)
    evolution = module.SPOSEvolution(**SPOS_EVOLUTION, checkpoint_dir=None)
    return _with_progress(module.SPOSSearch(trainer, evolution), setup)


def _pdarts(module: ModuleType, setup: SearchSetup) -> Any:
    def create_stage(layers: int) -> tuple[nn.Module, Any, Any, Any]:
        model = setup.build_model(layers)
        optimizer, scheduler = weight_optimizer(model, setup.epochs)
        return model, nn.CrossEntropyLoss(), optimizer, scheduler

    trainer = module.PdartsTrainer(
        create_stage,
        setup.layers,
        accuracy,
        setup.epochs,
        setup.train,
        setup.valid,
        pdarts_num_layers=PDARTS_NUM_LAYERS,
        pdarts_num_to_drop=PDARTS_NUM_TO_DROP,
        batch_size=setup.batch_size,
        workers=0,
        device=setup.device,
        callbacks=setup.callbacks,
        arc_learning_rate=ARC_LR,
        memory=setup.memory,
        compile=setup.compile,
    )
    return _with_progress(trainer, setup)


ALGORITHMS: dict[str, Algorithm] = {
    algorithm.name: algorithm
    for algorithm in (
        Algorithm(
            "darts",
            "nasops.algorithms.darts",
            _darts,
            True,
            "DARTS (first order)",
            recomputes=True,
            compiles=True,
        ),
        Algorithm(
            "pdarts",
            "nasops.algorithms.pdarts",
            _pdarts,
            True,
            "P-DARTS: DARTS in 3 stages, deeper and with fewer candidates each",
            staged=True,
            recomputes=True,
            compiles=True,
        ),
        Algorithm("gdas", "nasops.algorithms.gdas", _gdas, True, "GDAS (Gumbel-sampled DARTS)"),
        Algorithm(
            "oneshot",
            "nasops.algorithms.oneshot",
            _oneshot,
            False,
            "one-shot supernet with path dropout, then the best of 32 sampled sub-networks",
            recomputes=True,
        ),
        Algorithm(
            "random",
            "nasops.algorithms.random",
            _random,
            False,
            "random sub-networks with shared weights, then the best of 32",
        ),
        Algorithm(
            "spos",
            "nasops.algorithms.spos",
            _spos,
            False,
            "SPOS: single random paths train the supernet, then evolution picks the best "
            "(cells keep every edge)",
            space="darts-all-edges",
        ),
        Algorithm(
            "enas",
            "nasops.algorithms.enas",
            _enas,
            False,
            "ENAS: an LSTM controller samples ENAS micro cells, trained by REINFORCE",
            space="enas",
        ),
        Algorithm(
            "proxylessnas",
            "nasops.algorithms.proxylessnas",
            _proxylessnas,
            False,
            "ProxylessNAS: binarized paths, one candidate per edge in memory "
            "(cells keep every edge)",
            space="darts-all-edges",
        ),
    )
}


def build_trainer(name: str, setup: SearchSetup) -> Any:
    """The trainer of ``--algo name`` on ``setup``; an algorithm whose module is missing from
    this installation is reported as bad input, not a crash."""
    algorithm = ALGORITHMS[name]
    check_lean_options(algorithm, setup.memory, setup.compile)
    try:
        module = importlib.import_module(algorithm.module)
    except ModuleNotFoundError as error:
        if error.name is None or not f"{algorithm.module}.".startswith(f"{error.name}."):
            raise  # the algorithm is there but imports something missing: a bug to see
        raise SearchInputError(
            f"--algo {name}: {algorithm.module} is not available in this installation "
            f"({error}); choose one of {', '.join(ALGORITHMS)}"
        ) from None
    return algorithm.build(module, setup)


def check_lean_options(algorithm: Algorithm, memory: str, compile: bool) -> None:
    """``--memory recompute`` and ``--compile`` only for the algorithms that take them."""
    if memory != "default" and not algorithm.recomputes:
        takers = ", ".join(a.name for a in ALGORITHMS.values() if a.recomputes)
        raise SearchInputError(
            f"--memory {memory} does not apply to --algo {algorithm.name} (it runs one "
            f"candidate per choice); it applies to {takers}"
        )
    if compile and not algorithm.compiles:
        takers = ", ".join(a.name for a in ALGORITHMS.values() if a.compiles)
        raise SearchInputError(
            f"--compile does not apply to --algo {algorithm.name} (a sampled architecture per "
            f"step would compile a graph per step); it applies to {takers}"
        )
    if compile and memory == "recompute":
        raise SearchInputError("--compile and --memory recompute cannot be combined; choose one")
