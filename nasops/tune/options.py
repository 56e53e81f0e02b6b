"""What one ``nasops tune`` run is asked to do, checked once before anything starts."""

from dataclasses import dataclass
from pathlib import Path

from nasops.tune.errors import TuneInputError

SAMPLERS = ("random", "tpe", "nsga2")
DIRECTIONS = ("maximize", "minimize")


@dataclass(frozen=True)
class TuneOptions:
    """The arguments of ``nasops tune``.

    Args:
        command: the trial command, run through the shell in the current folder.
        trials: the study's total target: workers sharing a study stop once it holds this
            many trials that ran (completed or failed), whoever ran them.
        sampler: ``random``, ``tpe`` or ``nsga2`` (Optuna's RandomSampler, TPESampler,
            NSGAIISampler).
        storage: an Optuna RDB URL; ``None`` means ``sqlite:///<out>/study.db``.
        study: the study name, shared by the workers of one search.
        timeout: seconds one trial may run before it is killed and failed; ``None``: no limit.
        out: folder for the trials' logs, trials.csv, trials.png and best_arch.json.
        direction: ``maximize`` (NNI's default for accuracy) or ``minimize``.
        seed: seeds the sampler; ``None`` draws one.
        progress: show a progress bar (else one line per trial).
        heartbeat: seconds between a worker's heartbeats; a running trial whose worker misses
            them for 4x this long is failed and queued again by the next worker that asks.
    """

    command: str
    trials: int
    sampler: str = "tpe"
    storage: str | None = None
    study: str = "nasops"
    timeout: float | None = None
    out: Path = Path("tune-out")
    direction: str = "maximize"
    seed: int | None = None
    progress: bool = True
    heartbeat: int = 30

    def __post_init__(self) -> None:
        if not self.command.strip():
            raise TuneInputError("--trial-command is empty; give the command that runs one trial")
        if self.trials < 1:
            raise TuneInputError(f"--trials must be >= 1, got {self.trials}")
        if self.sampler not in SAMPLERS:
            raise TuneInputError(f"--sampler {self.sampler!r} is unknown; accepted: {SAMPLERS}")
        if self.direction not in DIRECTIONS:
            raise TuneInputError(
                f"--direction {self.direction!r} is unknown; accepted: {DIRECTIONS}"
            )
        if self.timeout is not None and self.timeout <= 0:
            raise TuneInputError(f"--timeout must be > 0 seconds, got {self.timeout}")
        if not self.study.strip():
            raise TuneInputError("--study is empty; give the study's name")
        if self.heartbeat < 1:
            raise TuneInputError(f"--heartbeat must be >= 1 second, got {self.heartbeat}")

    @property
    def storage_url(self) -> str:
        """The RDB URL the study lives in."""
        if self.storage is not None:
            return self.storage
        return f"sqlite:///{(self.out / 'study.db').resolve()}"
