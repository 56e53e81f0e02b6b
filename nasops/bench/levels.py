"""The levels of ``nasops bench``: each is a small unit that measures and returns rows.

A level is a name, a one-line description and a ``run(context)`` returning a
``LevelResult`` (plain-dict rows for the JSON, Markdown for the report). ``nasops bench``
runs the levels named on its command line in registry order; a new level is one
``register(Level(...))`` call. A level that cannot run here (a module not in this build)
returns a skipped result saying why, and the other levels still run.
"""

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import torch

from nasops.bench import memory, report, sweep


@dataclass(frozen=True)
class LevelContext:
    """What every level is told: the run's options."""

    quick: bool
    device: str
    threads: int
    progress: bool = True
    # Testing overrides: N as powers of two, and a cap on the timed rounds.
    n_log2: tuple[int, ...] | None = None
    max_reps: int | None = None


@dataclass
class LevelResult:
    name: str
    rows: list[dict[str, Any]] = field(default_factory=list)
    markdown: str = ""
    info: dict[str, Any] = field(default_factory=dict)
    skipped: str | None = None  # why the level did not run


@dataclass(frozen=True)
class Level:
    name: str
    description: str
    run: Callable[[LevelContext], LevelResult]


LEVELS: dict[str, Level] = {}


def register(level: Level) -> Level:
    if level.name in LEVELS:
        raise ValueError(f"benchmark level {level.name!r} is already registered")
    LEVELS[level.name] = level
    return level


def run_levels(names: list[str], context: LevelContext) -> list[LevelResult]:
    unknown = [name for name in names if name not in LEVELS]
    if unknown:
        raise ValueError(f"unknown benchmark level(s) {unknown}; known: {list(LEVELS)}")
    return [LEVELS[name].run(context) for name in LEVELS if name in names]


def _ops_config(context: LevelContext) -> sweep.SweepConfig:
    config = sweep.QUICK if context.quick else sweep.FULL
    config = sweep.with_sizes(config, context.n_log2)
    if context.max_reps is not None:
        reps = max(1, context.max_reps)
        config = replace(config, min_reps=min(config.min_reps, reps), max_reps=reps)
    return replace(config, device=context.device)


def _run_ops(context: LevelContext) -> LevelResult:
    config = _ops_config(context)
    rows = sweep.run(config, progress=context.progress)
    info = {
        "config": {k: list(v) if isinstance(v, tuple) else v for k, v in vars(config).items()},
        "useful_bytes": {
            "forward sum/mean": "(K+1)·N·itemsize",
            "forward concat": "2·K·N·itemsize",
            "forward+backward sum/mean": "(3K+2)·N·itemsize",
            "forward+backward concat": "5·K·N·itemsize",
            "copy/triad": "STREAM-counted: 2·N·itemsize / 3·N·itemsize",
        },
        "timing": "all methods of a case round-robin, each round starting at the next method; "
        "median over the rounds; a sample repeats a call until it lasts >= 1 ms; one warm-up "
        "call first; the result is freed inside the timed region; the first round at large N "
        "(one call per sample) counts as a sample",
        "memory_method": memory.METHOD[torch.device(context.device).type],
        "input_shape": f"({sweep.ROWS}, N/{sweep.ROWS}); concat along dim 1",
    }
    return LevelResult("ops", rows, report.ops_markdown(rows), info)


def _run_mutables(context: LevelContext) -> LevelResult:
    """Per-call overhead of LayerChoice/InputChoice against NNI's Python path.

    The measurements live in ``nasops.bench.mutables`` (written separately); this adapter
    expects ``run_level(context) -> list[dict]`` there and skips the level while the module
    is absent.
    """
    try:
        module = importlib.import_module("nasops.bench.mutables")
    except ModuleNotFoundError as error:
        if error.name != "nasops.bench.mutables":
            raise
        return LevelResult("mutables", skipped="nasops.bench.mutables is not in this build")
    run_level = getattr(module, "run_level", None)
    if run_level is None:
        return LevelResult(
            "mutables",
            skipped="nasops.bench.mutables has no run_level(context); wire it in "
            "nasops/bench/levels.py",
        )
    rows = [dict(row) for row in run_level(context)]
    return LevelResult("mutables", rows, report.rows_table(rows))


def _run_supernet(context: LevelContext) -> LevelResult:
    """A DARTS search step of a two-cell supernet against NNI's path (``nasops.bench.supernet``;
    imported here, so the other levels do not load the DARTS search space)."""
    from nasops.bench import supernet

    run = supernet.run_level(context)
    info = {**run.info, "targets": run.targets}
    return LevelResult("supernet", run.rows, supernet.markdown(run), info)


register(Level("ops", "fused reductions vs peers, stock ops and COPY/TRIAD", _run_ops))
register(Level("mutables", "LayerChoice/InputChoice call overhead vs NNI's path", _run_mutables))
register(Level("supernet", "a DARTS search step on nasops vs NNI's path", _run_supernet))
