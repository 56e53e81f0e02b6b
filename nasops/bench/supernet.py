"""One DARTS search step of a small supernet on nasops against the same step on NNI's path.

Every path runs the same model (a stem and ``cells`` ``DartsCell`` s, the middle one a
reduction cell: 7 candidates per edge plus DartsMutator's zero op, DARTS' 8 operations), the
same alphas, batches and optimizers. ``nni_path`` is NNI's DartsTrainer step reduced by NNI
v2.8's ``_select_with_mask`` + ``_tensor_reduction`` (:mod:`nasops.bench.nni_path`); ``nasops``
is the same step on the fused ops (the reductions alone); ``nasops_trainer`` is nasops' own
``DartsTrainer.train_step``, the step a nasops search runs, which the targets compare;
``nasops_recompute`` and ``nasops_compiled`` are that step with ``memory="recompute"`` and with
``compile=True`` (inductor; its first step, which compiles, is reported apart).
``nasops bench --levels supernet`` and ``benchmarks/bench_supernet.py`` both measure through
:func:`measure`.
"""

import json
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import TensorDataset

from nasops.algorithms.darts import DartsMutator, DartsTrainer
from nasops.bench import memory, report
from nasops.bench.nni_path import NNIPathReduction
from nasops.bench.progress import progress_bar
from nasops.bench.timing import Timing, interleaved_medians, synchronizer, warm_up
from nasops.search_space_zoo import DartsCell


@dataclass(frozen=True)
class SupernetConfig:
    """The supernet and its batches (CIFAR-like: ``batch`` x 3 x ``image_size``²)."""

    batch: int = 4
    channels: int = 16
    image_size: int = 32
    n_nodes: int = 4
    classes: int = 10
    seed: int = 0
    cells: int = 2


# DARTS' CIFAR-10 search resolution and channels with a batch of 4 (FULL), or 16² images
# (QUICK), so one step takes about a second or less on 2 CPU threads (benchmarks/README.md).
FULL = SupernetConfig()
QUICK = SupernetConfig(image_size=16)
# The memory-lean comparison (issue 17): 4 cells of 8-operation edges, batch 16 of 32² images;
# 2 nodes a cell and 8 channels keep a step within seconds on 2 CPU threads.
LEAN = SupernetConfig(batch=16, channels=8, image_size=32, n_nodes=2, cells=4)
ROUNDS = {"full": 11, "quick": 5}

# DARTS' search hyper-parameters (NNI's DartsTrainer and its CIFAR-10 example).
WEIGHT_LR, WEIGHT_MOMENTUM, WEIGHT_DECAY = 0.025, 0.9, 3.0e-4
ARCH_LR, ARCH_BETAS, ARCH_DECAY = 3.0e-4, (0.5, 0.999), 1.0e-3
GRAD_CLIP = 5.0


@dataclass(frozen=True)
class Targets:
    """What nasops' steps must reach against NNI's path on one device type."""

    min_speedup: float
    peak_strictly_lower: bool  # False: no higher than NNI's path's peak
    recompute_max_peak: float = 0.4  # recompute's peak, as a fraction of NNI's path's
    recompute_max_slowdown: float = 1.4  # recompute's step over nasops' default step
    compiled_min_speedup: float = 1.3  # the compiled step over NNI's, compilation excluded


# On the CPU the candidates' convolutions are most of the step; on CUDA NNI's path also waits
# for the device once per candidate (its host-side ``if m``).
TARGETS = {
    "cpu": Targets(1.08, peak_strictly_lower=False),
    "cuda": Targets(1.5, peak_strictly_lower=True),
}


class SearchNetwork(nn.Module):
    """A stem, ``config.cells`` ``DartsCell`` s (cell ``cells // 2`` reduces: with 2 cells, a
    normal then a reduction cell), global pooling, a classifier."""

    def __init__(self, config: SupernetConfig) -> None:
        super().__init__()
        c, n = config.channels, config.n_nodes
        stem = 3 * c  # DARTS' stem multiplier
        self.stem = nn.Sequential(
            nn.Conv2d(3, stem, 3, padding=1, bias=False), nn.BatchNorm2d(stem)
        )
        self.cells = nn.ModuleList()
        channels_pp = channels_p = stem
        reduction = False
        for index in range(config.cells):
            reduction_p, reduction = reduction, index == config.cells // 2
            c = 2 * c if reduction else c
            self.cells.append(DartsCell(n, channels_pp, channels_p, c, reduction_p, reduction))
            channels_pp, channels_p = channels_p, n * c
        self.classifier = nn.Linear(channels_p, config.classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pprev = prev = self.stem(x)
        for cell in self.cells:
            pprev, prev = prev, cell(pprev, prev)
        return self.classifier(F.adaptive_avg_pool2d(prev, 1).flatten(1))


class NNIPathDartsMutator(NNIPathReduction, DartsMutator):
    """DartsMutator's masks reduced NNI's way; ``reset`` only samples, as NNI's does."""

    def reset(self) -> None:
        self._cache = self.sample_search()


PATHS: dict[str, type[DartsMutator]] = {
    "nasops_trainer": DartsMutator,
    "nasops": DartsMutator,
    "nni_path": NNIPathDartsMutator,
    "nasops_recompute": DartsMutator,
    "nasops_compiled": DartsMutator,
}
# The path whose step is nasops' own DartsTrainer.train_step (the others step as NNI's
# DartsTrainer does): its architecture step back-propagates into the alphas only, and its
# weight step freezes them, so the fused ops neither save inputs for nor compute an alpha
# gradient that NNI computes and throws away.
TRAINER_PATH = "nasops_trainer"
RECOMPUTE_PATH = "nasops_recompute"
COMPILED_PATH = "nasops_compiled"
# The paths that run DartsTrainer.train_step, with the trainer options each adds.
TRAINER_OPTIONS: dict[str, dict[str, Any]] = {
    TRAINER_PATH: {},
    RECOMPUTE_PATH: {"memory": "recompute"},
    COMPILED_PATH: {"compile": True},
}


class SearchStep:
    """First-order DARTS on one path, as NNI's ``DartsTrainer`` steps: an architecture step
    (reset, forward, backward, Adam on the alphas) on the validation batch, then a weight step
    (reset, forward, backward, clip, SGD) on the training batch.

    The same ``config`` gives the same weights, alphas and batches on every path and in every
    process (all drawn from ``config.seed``).
    """

    def __init__(self, path: str, config: SupernetConfig, device: str = "cpu") -> None:
        if path not in PATHS:
            raise ValueError(f"path must be one of {list(PATHS)}, got {path!r}")
        torch.manual_seed(config.seed)
        self.model = SearchNetwork(config).to(device)
        self.mutator = PATHS[path](self.model).to(device)
        self.weight_optim = torch.optim.SGD(
            self.model.parameters(), WEIGHT_LR, momentum=WEIGHT_MOMENTUM, weight_decay=WEIGHT_DECAY
        )
        self.arch_optim = torch.optim.Adam(
            self.mutator.parameters(), ARCH_LR, betas=ARCH_BETAS, weight_decay=ARCH_DECAY
        )
        generator = torch.Generator().manual_seed(config.seed + 1)
        shape = (config.batch, 3, config.image_size, config.image_size)
        self.valid, self.train = (
            (
                torch.randn(shape, generator=generator).to(device),
                torch.randint(config.classes, (config.batch,), generator=generator).to(device),
            )
            for _ in range(2)
        )
        self.trainer = None
        if path in TRAINER_OPTIONS:
            self.trainer = DartsTrainer(
                self.model,
                nn.CrossEntropyLoss(),
                lambda logits, y: {},
                self.weight_optim,
                1,
                TensorDataset(*self.train),
                TensorDataset(*self.valid),
                mutator=self.mutator,
                workers=0,
                device=device,
                arc_learning_rate=ARCH_LR,
                **TRAINER_OPTIONS[path],
            )

    def loss(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        """Resample the architecture, then the model's loss on ``batch``."""
        self.mutator.reset()
        x, y = batch
        return F.cross_entropy(self.model(x), y)

    def __call__(self) -> None:
        if self.trainer is not None:
            self.trainer.train_step((self.train, self.valid))
            return
        self.arch_optim.zero_grad()
        self.loss(self.valid).backward()
        self.arch_optim.step()
        self.weight_optim.zero_grad()
        self.loss(self.train).backward()
        nn.utils.clip_grad_norm_(self.model.parameters(), GRAD_CLIP)
        self.weight_optim.step()


ROW_KEYS = (
    "path",
    "median_ms",
    "min_ms",
    "max_ms",
    "rounds",
    "speedup_vs_nni_path",
    "peak_mib",
    "first_step_ms",
)


@dataclass
class SupernetRun:
    """What :func:`measure` found: one row per path, the targets, and how it was measured."""

    rows: list[dict[str, Any]]
    targets: list[dict[str, Any]]
    info: dict[str, Any] = field(default_factory=dict)


# The paths every measurement includes: the targets compare the others against these two.
REQUIRED_PATHS = ("nni_path", TRAINER_PATH)


def check_paths(paths: tuple[str, ...]) -> tuple[str, ...]:
    """``paths`` in :data:`PATHS`' order, or a ValueError naming an unknown or missing one."""
    unknown = [path for path in paths if path not in PATHS]
    if unknown:
        raise ValueError(f"unknown path {unknown[0]!r}; accepted are {list(PATHS)}")
    missing = [path for path in REQUIRED_PATHS if path not in paths]
    if missing:
        raise ValueError(
            f"paths must include {list(REQUIRED_PATHS)} (the targets compare against them); "
            f"{missing[0]!r} is missing"
        )
    return tuple(path for path in PATHS if path in paths)


def time_steps(
    config: SupernetConfig,
    device: str,
    rounds: int,
    paths: tuple[str, ...] = tuple(PATHS),
    progress: bool = False,
) -> tuple[dict[str, Timing], dict[str, float]]:
    """Seconds per search step of each of ``paths``, timed round-robin in this process, and the
    seconds of each path's first step (optimizer state, allocator caches, kernel selection;
    for the compiled path, the compilation), timed alone. ``progress`` shows a bar of the
    steps (a step that takes under ``MIN_SAMPLE_S`` is timed several calls at a time, so the
    bar may run past its total on a fast device)."""
    steps = {path: SearchStep(path, config, device) for path in paths}
    sync = synchronizer(device)
    bar = progress_bar(len(steps) * (rounds + 1), progress, "nasops bench supernet", "step")
    first = {}
    try:
        for path, step in steps.items():
            compiling = " (compiling: minutes)" if path == COMPILED_PATH else ""
            bar.set_postfix_str(f"{path}: first step{compiling}")
            started = time.perf_counter()
            step()
            sync()
            first[path] = time.perf_counter() - started
            bar.update()
        bar.set_postfix_str(f"{len(steps)} paths round-robin")
        counted = {path: _counted(step, bar) for path, step in steps.items()}
        timings = interleaved_medians(
            counted, min_reps=rounds, max_reps=rounds, budget_s=0.0, sync=sync
        )
    finally:
        bar.close()
    return timings, first


def _counted(step: SearchStep, bar: Any) -> Callable[[], None]:
    """``step``, advancing ``bar`` by one each call."""

    def call() -> None:
        step()
        bar.update()

    return call


def step_peak_bytes(path: str, config: SupernetConfig, device: str) -> int:
    """Peak bytes one search step allocates beyond what exists before it (after one step, so
    the optimizer state and gradients are in place), measured in this process."""
    step = SearchStep(path, config, device)
    step()
    return memory.peak_bytes(step, device)


_CHILD = "import sys; from nasops.bench.supernet import print_child_peak; print_child_peak()"


def peaks_in_fresh_processes(
    config: SupernetConfig, device: str, threads: int, paths: tuple[str, ...] = tuple(PATHS)
) -> dict[str, int]:
    """:func:`step_peak_bytes` of each of ``paths``, each in a new Python process (run side by
    side), so no allocator state carries over from one path, or from the timing, to another."""
    children = {}
    for path in paths:
        spec = {"path": path, "config": asdict(config), "device": device, "threads": threads}
        children[path] = subprocess.Popen(
            [sys.executable, "-c", _CHILD, json.dumps(spec)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    peaks = {}
    for path, child in children.items():
        out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(
                f"peak-memory process for path {path!r} exited with {child.returncode}:\n"
                + err[-2000:]
            )
        peaks[path] = int(json.loads(out.strip().splitlines()[-1])["peak_bytes"])
    return peaks


def print_child_peak() -> None:
    """Entry point of the peak-memory process: ``sys.argv[1]`` is the JSON spec."""
    spec = json.loads(sys.argv[1])
    torch.set_num_threads(spec["threads"])
    peak = step_peak_bytes(spec["path"], SupernetConfig(**spec["config"]), spec["device"])
    print(json.dumps({"peak_bytes": peak}))


def measure(
    config: SupernetConfig,
    device: str = "cpu",
    rounds: int = 11,
    memory_check: bool = True,
    paths: tuple[str, ...] = tuple(PATHS),
    progress: bool = False,
) -> SupernetRun:
    """Time ``paths`` (all by default) in one run (same threads), measure each one's peak in
    its own process, and check the targets of ``device``'s type that those paths allow;
    ``progress`` shows a bar of the timed steps."""
    paths = check_paths(paths)
    device_type = torch.device(device).type
    warm_up(device)
    timings, first = time_steps(config, device, rounds, paths, progress)
    threads = torch.get_num_threads()
    if progress and memory_check:
        again = ", the compiled one compiling again" if COMPILED_PATH in paths else ""
        print(f"peak memory: {len(paths)} fresh processes{again}", file=sys.stderr, flush=True)
    peaks = (
        peaks_in_fresh_processes(config, device, threads, paths)
        if memory_check
        else dict.fromkeys(paths)
    )
    nni_median = timings["nni_path"].median_s
    rows = [
        {
            "path": path,
            "median_ms": t.median_s * 1e3,
            "min_ms": t.min_s * 1e3,
            "max_ms": t.max_s * 1e3,
            "rounds": t.samples,
            "speedup_vs_nni_path": nni_median / t.median_s,
            "peak_mib": None if peaks[path] is None else peaks[path] / 2**20,
            "first_step_ms": first[path] * 1e3,
        }
        for path, t in timings.items()
    ]
    model = SearchNetwork(config)
    info = {
        "config": asdict(config),
        "device": device,
        "threads": threads,
        "model": "stem (3x3 conv, BN) + DartsCells (the middle one reduces) + pool + linear",
        "parameters": sum(p.numel() for p in model.parameters()),
        "step": "arch: reset, forward, backward, Adam on the alphas (validation batch); weights: "
        "reset, forward, backward, clip 5, SGD (training batch). nasops_trainer: nasops' "
        "DartsTrainer.train_step (alphas only in the arch backward, frozen in the weight step); "
        "nasops and nni_path: NNI DartsTrainer's step (both backwards into weights and alphas), "
        "reduced by the fused ops or NNI's path; nasops_recompute, nasops_compiled: "
        "nasops_trainer with memory='recompute', with compile=True (inductor)",
        "timing": f"every path round-robin in one process, median of {rounds} steps each, after "
        "one first step timed apart (first_step_ms: it compiles the compiled path)",
        "memory_method": "each path in a fresh process, after one untimed step: "
        + memory.METHOD[device_type],
    }
    return SupernetRun(rows, check_targets(rows, device_type), info)


def check_targets(rows: list[dict[str, Any]], device_type: str) -> list[dict[str, Any]]:
    """Each target of ``device_type``: what it asks, what was measured, met or not (``None``:
    not measured)."""
    targets = TARGETS[device_type]
    by_path = {row["path"]: row for row in rows}
    ours, nni = by_path[TRAINER_PATH], by_path["nni_path"]
    speedup = ours["speedup_vs_nni_path"]
    checks = [
        {
            "target": f"nasops' DartsTrainer step over NNI's ≥ {targets.min_speedup:g}x",
            "measured": f"{speedup:.3f}x",
            "met": speedup >= targets.min_speedup,
        }
    ]
    rule = "<" if targets.peak_strictly_lower else "≤"
    if ours["peak_mib"] is None or nni["peak_mib"] is None:
        measured, met = "not measured", None
    else:
        measured = f"{ours['peak_mib']:.2f} vs {nni['peak_mib']:.2f} MiB"
        lower, equal = ours["peak_mib"] < nni["peak_mib"], ours["peak_mib"] == nni["peak_mib"]
        met = lower or (equal and not targets.peak_strictly_lower)
    checks.append(
        {"target": f"nasops' step peak {rule} NNI path's", "measured": measured, "met": met}
    )
    if RECOMPUTE_PATH in by_path:
        checks += _recompute_checks(by_path[RECOMPUTE_PATH], ours, nni, targets)
    if COMPILED_PATH in by_path:
        compiled = by_path[COMPILED_PATH]["speedup_vs_nni_path"]
        checks.append(
            {
                "target": f"compiled step over NNI's ≥ {targets.compiled_min_speedup:g}x "
                "(compilation excluded)",
                "measured": f"{compiled:.3f}x",
                "met": compiled >= targets.compiled_min_speedup,
            }
        )
    return checks


def _recompute_checks(
    recompute: dict[str, Any], ours: dict[str, Any], nni: dict[str, Any], targets: Targets
) -> list[dict[str, Any]]:
    """Recompute's peak against NNI's path's, and its step against nasops' default step."""
    if recompute["peak_mib"] is None or nni["peak_mib"] is None:
        peak_measured, peak_met = "not measured", None
    else:
        fraction = recompute["peak_mib"] / nni["peak_mib"]
        peak_measured = (
            f"{recompute['peak_mib']:.2f} vs {nni['peak_mib']:.2f} MiB ({fraction:.2f}x)"
        )
        peak_met = fraction <= targets.recompute_max_peak
    slowdown = ours["speedup_vs_nni_path"] / recompute["speedup_vs_nni_path"]
    return [
        {
            "target": f"recompute step peak ≤ {targets.recompute_max_peak:g}x NNI path's",
            "measured": peak_measured,
            "met": peak_met,
        },
        {
            "target": f"recompute step ≤ {targets.recompute_max_slowdown:g}x nasops' default step",
            "measured": f"{slowdown:.3f}x",
            "met": slowdown <= targets.recompute_max_slowdown,
        },
    ]


def markdown(run: SupernetRun) -> str:
    """The run as Markdown: what was measured, the per-path table and the targets."""
    info, config = run.info, run.info["config"]
    intro = "\n".join(
        [
            f"- model: {info['model']}, {info['parameters']} weights; {config['cells']} cells, "
            f"{config['n_nodes']} nodes "
            f"per cell, {config['channels']} channels, batch {config['batch']} x 3 x "
            f"{config['image_size']}²",
            f"- step: {info['step']}",
            f"- {info['device']}, {info['threads']} threads; timing: {info['timing']}",
            f"- peak memory: {info['memory_method']}",
        ]
    )
    paths = report.table(
        [
            "path",
            "median ms",
            "min ms",
            "max ms",
            "rounds",
            "speed-up vs NNI path",
            "peak MiB",
            "first step ms",
        ],
        ([row[key] for key in ROW_KEYS] for row in run.rows),
    )
    verdict = {True: "met", False: "NOT MET", None: "-"}
    targets = report.table(
        ["target", "measured", "met"],
        ([t["target"], t["measured"], verdict[t["met"]]] for t in run.targets),
    )
    return "\n\n".join([intro, paths, targets])


def run_level(context: Any) -> SupernetRun:
    """The ``supernet`` level of ``nasops bench``: :data:`QUICK` or :data:`FULL`, rounds from
    :data:`ROUNDS` unless ``context.max_reps`` caps them."""
    config = QUICK if context.quick else FULL
    rounds = context.max_reps or ROUNDS["quick" if context.quick else "full"]
    return measure(config, context.device, rounds, progress=context.progress)
