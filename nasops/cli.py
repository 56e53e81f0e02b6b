"""The ``nasops`` command: one subcommand per tool (``info``, ``search``, ``bench``; more to come).

A subcommand is a ``Command``: a name, a help line, a function adding its arguments and a
function running it. Adding one (``search``, ``ss-gen``, ``tune``) is one entry in
``COMMANDS``; heavy imports stay inside the run functions so ``nasops --help`` is fast.
"""

import argparse
import importlib.util
import json
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nasops._input_error import InputError


@dataclass(frozen=True)
class Command:
    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


# ------------------------------------------------------------------------------------- info


def _info_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def _run_info(args: argparse.Namespace) -> int:
    import torch

    import nasops

    info = {
        "nasops": nasops.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cuda_available": torch.cuda.is_available(),
        "extension": nasops.extension_info(),
    }
    if args.json:
        print(json.dumps(info, indent=1))
        return 0
    ext = info["extension"]
    print(
        f"nasops {info['nasops']}  torch {info['torch']}  threads {info['threads']}  "
        f"cuda available: {info['cuda_available']}"
    )
    print(f"backend: {ext['backend']}" + (f" ({ext['reason']})" if ext.get("reason") else ""))
    for key, value in ext.items():
        if key not in ("backend", "reason"):
            print(f"  {key}: {value}")
    return 0


# ------------------------------------------------------------------------------------ bench


def _log2_list(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated powers of two, got {text!r}"
        ) from None
    if not values or any(v < 3 or v > 30 for v in values):
        raise argparse.ArgumentTypeError(f"log2 N values must lie in [3, 30], got {text!r}")
    return values


def _bench_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--quick",
        action="store_true",
        help="K in {2,4,8}, N in {2^12, 2^23}, float32 only (about a minute on 2 cores)",
    )
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch.set_num_threads for the whole run (default: torch's current setting)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("bench-out"),
        help="folder for bench.json, bench.md and bench.png",
    )
    parser.add_argument(
        "--levels",
        default="ops,mutables",
        help="comma-separated levels to run (default: ops,mutables)",
    )
    parser.add_argument(
        "--allocator",
        default="default",
        choices=["default", "reuse"],
        help="CPU allocator regime: glibc as is, or reuse (no mmap: outputs cost no page "
        "faults; where kernel bandwidth is read)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    # Testing overrides, not for measurements: N values (log2) and a cap on timed rounds.
    parser.add_argument("--sizes", type=_log2_list, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--max-reps", type=int, default=None, help=argparse.SUPPRESS)


def _missing_bench_extras() -> list[str]:
    return [name for name in ("matplotlib", "tqdm") if importlib.util.find_spec(name) is None]


def _run_bench(args: argparse.Namespace) -> int:
    missing = _missing_bench_extras()
    if missing:
        print(
            f"nasops bench: missing {', '.join(missing)}; install them with "
            "`pip install 'nasops[bench]'`",
            file=sys.stderr,
        )
        return 2
    import torch

    from nasops.bench import allocator, levels

    if args.device == "cuda" and not torch.cuda.is_available():
        print(
            "nasops bench: --device cuda asked for, but torch sees no CUDA device", file=sys.stderr
        )
        return 2
    threads = torch.get_num_threads() if args.threads is None else args.threads
    if threads < 1:
        print(f"nasops bench: --threads must be >= 1, got {threads}", file=sys.stderr)
        return 2
    names = [name.strip() for name in args.levels.split(",") if name.strip()]
    unknown = [name for name in names if name not in levels.LEVELS]
    if unknown:
        print(
            f"nasops bench: unknown level(s) {unknown}; known: {list(levels.LEVELS)}",
            file=sys.stderr,
        )
        return 2
    context = levels.LevelContext(
        quick=args.quick,
        device=args.device,
        threads=threads,
        progress=not args.no_progress,
        n_log2=args.sizes,
        max_reps=args.max_reps,
    )
    args.out.mkdir(parents=True, exist_ok=True)  # fail now, not after a ten-minute run
    try:
        allocator.set_regime(args.allocator)  # before the sweep allocates anything
    except RuntimeError as error:
        print(f"nasops bench: {error}", file=sys.stderr)
        return 2
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)  # fixed for the whole run, and recorded
    try:
        return _bench(args, names, context)
    finally:
        torch.set_num_threads(previous)  # main() called as a function leaves no trace


def _bench(args: argparse.Namespace, names: list[str], context: Any) -> int:
    """Run the levels, write bench.json, bench.md and the pictures (bench.png of the ops
    level, supernet.png of the supernet level), print the headline."""
    from nasops.bench import levels, machine, plot, report, supernet_plot

    threads = context.threads
    started = time.perf_counter()
    results = levels.run_levels(names, context)
    elapsed = time.perf_counter() - started
    info = machine.machine_info(args.device, threads, args.command_line, args.allocator)
    info["elapsed_s"] = round(elapsed, 1)
    payload = {
        "machine": info,
        "levels": {r.name: {"skipped": r.skipped, "info": r.info, "rows": r.rows} for r in results},
    }
    report.write_json(args.out / "bench.json", payload)
    (args.out / "bench.md").write_text(report.markdown(info, results))
    written = ["bench.json", "bench.md"]
    title = (
        f"{info['cpu_model']}, {threads} threads, torch {info['torch']}, "
        f"nasops {info['nasops_extension']['backend']}"
    )
    rows = {r.name: r.rows for r in results if r.rows}
    if "ops" in rows:
        plot.write_png(args.out / "bench.png", rows["ops"], title)
        written.append("bench.png")
    if "supernet" in rows:
        supernet_plot.write_png(args.out / "supernet.png", rows["supernet"], title)
        written.append("supernet.png")
    for result in results:
        if result.skipped:
            print(f"level {result.name}: skipped ({result.skipped})")
    if "ops" in rows:
        print(report.ops_markdown(rows["ops"]).split("\n\n### ")[0])
    print(f"\nwrote {', '.join(written)} in {args.out} in {elapsed:.0f} s")
    return 0


# ----------------------------------------------------------------------------------- search


def _search_arguments(parser: argparse.ArgumentParser) -> None:
    from nasops.search.algorithms import ALGORITHMS

    parser.add_argument(
        "--algo",
        required=True,
        choices=list(ALGORITHMS),
        help="; ".join(f"{a.name}: {a.summary}" for a in ALGORITHMS.values()),
    )
    parser.add_argument(
        "--dataset",
        default="digits",
        choices=["digits"],
        help="the data when --data-dir is not given: scikit-learn's 8x8 digits (no download)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        metavar="DIR",
        help="your own images instead: a folder with one subfolder of same-sized images per class",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        default=6,
        metavar="N",
        help="search epochs, of each of the 3 stages for pdarts (default: 6)",
    )
    parser.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="S",
        help="seeds the data split, the weights and the sampling (default: 0)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("search-out"),
        metavar="DIR",
        help="folder for arch.json, result.json, search.png and arch.png (default: search-out)",
    )
    parser.add_argument(
        "--device",
        default=None,
        metavar="D",
        help="cpu, cuda or cuda:N (default: cuda when available, else cpu)",
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")
    parser.add_argument(
        "--dist-timeout",
        type=float,
        default=300.0,
        metavar="S",
        help="under torchrun: seconds a rank waits for the others before the run fails "
        "(default: 300)",
    )
    parser.add_argument(
        "--memory",
        default="default",
        choices=["default", "recompute"],
        help="recompute: recompute the candidates in backward instead of keeping their "
        "activations (on the CPU only those with weights), for darts, pdarts and oneshot (less "
        "memory, a slower step; default: default)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="run the supernet's forward under torch.compile (darts and pdarts)",
    )
    # Testing and tuning overrides: how long the retrain runs, a subset of the images, the
    # supernet's width and the batch size.
    parser.add_argument("--retrain-epochs", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--limit", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--channels", type=int, default=8, help=argparse.SUPPRESS)
    parser.add_argument("--batch-size", type=int, default=64, help=argparse.SUPPRESS)


def _run_search(args: argparse.Namespace) -> int:
    from nasops.distributed import RankFailure
    from nasops.search.options import SearchOptions
    from nasops.search.run import search

    options = SearchOptions(
        algo=args.algo,
        data_dir=args.data_dir,
        epochs=args.epochs,
        seed=args.seed,
        out=args.out,
        device=args.device,
        retrain_epochs=args.retrain_epochs,
        limit=args.limit,
        channels=args.channels,
        batch_size=args.batch_size,
        progress=not args.no_progress,
        dist_timeout=args.dist_timeout,
        memory=args.memory,
        compile=args.compile,
    )
    try:
        search(options)
    except RankFailure as error:  # under torchrun: another rank died, raised or hung
        print(f"nasops search: {error}", file=sys.stderr)
        return 1
    return 0


# ----------------------------------------------------------------------------------- ss-gen


def _ss_gen_arguments(parser: argparse.ArgumentParser) -> None:
    from nasops.ss_gen import DEFAULT_FILE

    parser.add_argument(
        "-t",
        "--trial_command",
        "--trial-command",
        dest="trial_command",
        required=True,
        metavar="CMD",
        help='the trial command, e.g. "python trial.py"; it must call '
        "get_and_apply_next_architecture(model)",
    )
    parser.add_argument(
        "-d",
        "--trial_dir",
        "--trial-dir",
        dest="trial_dir",
        default="./",
        metavar="DIR",
        help="the folder the command runs in (default: ./)",
    )
    parser.add_argument(
        "-f",
        "--file",
        default=DEFAULT_FILE,
        metavar="FILE",
        help=f"the search-space file to write, relative to this folder (default: {DEFAULT_FILE})",
    )


def _run_ss_gen(args: argparse.Namespace) -> int:
    from nasops.ss_gen import generate_search_space
    from nasops.tune.runner import trial_environment

    replaced = Path(args.file).expanduser().exists()
    # The trial's environment is nasops tune's: unmodified NNI trials find `nni`.
    space = generate_search_space(
        args.trial_command, args.trial_dir, args.file, env=trial_environment()
    )
    path = Path(args.file).expanduser().absolute()
    print(
        f"nasops ss-gen: wrote {len(space)} choice(s) to '{path}'"
        + (" (replacing the previous file)" if replaced else "")
    )
    return 0


# ------------------------------------------------------------------------------------- tune


def _tune_arguments(parser: argparse.ArgumentParser) -> None:
    from nasops.tune.options import DIRECTIONS, SAMPLERS

    parser.add_argument(
        "-t",
        "--trial-command",
        required=True,
        metavar="CMD",
        help='the command that runs one trial, e.g. "python trial.py" (run in this folder)',
    )
    parser.add_argument(
        "--trials",
        type=int,
        required=True,
        metavar="N",
        help="the study's total: workers sharing it stop once it holds N finished trials",
    )
    # Checked by TuneOptions rather than argparse choices: a bad value is one line on stderr.
    parser.add_argument(
        "--sampler", default="tpe", help=f"one of {', '.join(SAMPLERS)} (default: tpe)"
    )
    parser.add_argument(
        "--storage",
        default=None,
        metavar="URL",
        help="Optuna RDB URL; postgresql://... lets workers on several machines share the "
        "study (default: sqlite:///OUT/study.db)",
    )
    parser.add_argument("--study", default="nasops", metavar="NAME", help="default: nasops")
    parser.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds one trial may run before it is killed and failed (default: no limit)",
    )
    parser.add_argument(
        "--out",
        type=Path,
        default=Path("tune-out"),
        metavar="DIR",
        help="folder for trials.csv, trials.png, best_arch.json and the trial logs "
        "(default: tune-out)",
    )
    parser.add_argument(
        "--direction",
        default="maximize",
        help=f"one of {', '.join(DIRECTIONS)} (default: maximize)",
    )
    parser.add_argument("--seed", type=int, default=None, metavar="S", help="seeds the sampler")
    parser.add_argument("--no-progress", action="store_true", help="one line per trial, no bar")
    # Testing override: seconds between heartbeats (a dead worker's trial is retried after 4x).
    parser.add_argument("--heartbeat", type=int, default=30, help=argparse.SUPPRESS)


def _run_tune(args: argparse.Namespace) -> int:
    from nasops.tune.options import TuneOptions
    from nasops.tune.run import tune

    options = TuneOptions(
        command=args.trial_command,
        trials=args.trials,
        sampler=args.sampler,
        storage=args.storage,
        study=args.study,
        timeout=args.timeout,
        out=args.out,
        direction=args.direction,
        seed=args.seed,
        progress=not args.no_progress,
        heartbeat=args.heartbeat,
    )
    result = tune(options)
    study = f"{result.finished}/{options.trials} trials finished, {result.completed} completed"
    if result.interrupted:
        print(
            f"nasops tune: interrupted; {study}; rerun the same command to resume", file=sys.stderr
        )
        return 130
    if result.best_number is None:
        print(f"nasops tune: {study}, none reported a metric; see {result.out / 'trials.csv'}")
        return 1
    print(
        f"{study}; best: trial {result.best_number} ({result.best_value:.6g}); wrote "
        f"{result.out / 'best_arch.json'}, trials.csv, trials.png"
    )
    return 0


# ------------------------------------------------------------------------------------- main

COMMANDS: list[Command] = [
    Command("info", "show the nasops build, torch version and threads", _info_arguments, _run_info),
    Command(
        "search",
        "search an architecture on small images, retrain it from scratch and test it",
        _search_arguments,
        _run_search,
    ),
    Command(
        "bench",
        "benchmark the fused ops against the peers' reductions",
        _bench_arguments,
        _run_bench,
    ),
    Command(
        "ss-gen",
        "write a classic-mode trial's search space (nnictl ss_gen)",
        _ss_gen_arguments,
        _run_ss_gen,
    ),
    Command(
        "tune",
        "classic-mode NAS: run a trial script per architecture, sampled by Optuna",
        _tune_arguments,
        _run_tune,
    ),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nasops", description="One-shot neural architecture search on fused reductions."
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for command in COMMANDS:
        sub = subparsers.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(sub)
        sub.set_defaults(run=command.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.command_line = " ".join(["nasops", *argv])
    try:
        return args.run(args)
    except InputError as error:
        print(f"nasops {args.command}: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
