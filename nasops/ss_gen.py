"""Generate a classic-mode search space by dry-running the trial (what ``nnictl ss_gen`` did).

The trial command runs in its folder with ``NNI_GEN_SEARCH_SPACE`` set to a file path; the
trial's :func:`~nasops.algorithms.classic_nas.get_and_apply_next_architecture` writes the
model's search space there and exits. The dump goes to a temporary file beside the target,
moved into place only when it holds a JSON object, so a failing trial never leaves a stale or
half-written file behind.
"""

import json
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from nasops._input_error import InputError
from nasops._process_group import kill_process_group
from nasops.algorithms.classic_nas.mutator import NNI_GEN_SEARCH_SPACE

DEFAULT_FILE = "nni_auto_gen_search_space.json"
_TAIL_LINES = 5
_TAIL_CHARS = 400


class SearchSpaceGenError(InputError):
    """The trial did not produce a search space; the message is one line naming the command."""


def generate_search_space(
    command: str,
    trial_dir: str | os.PathLike[str] = "./",
    file: str | os.PathLike[str] = DEFAULT_FILE,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Run the trial ``command`` in ``trial_dir`` so that it writes its search space to ``file``.

    Args:
        command: the trial command, e.g. ``"python trial.py"``.
        trial_dir: the folder it runs in (default: the current one).
        file: where the search space goes; a relative path is relative to the current folder,
            not to ``trial_dir`` (as nnictl). An existing file is replaced.
        timeout: seconds to wait for the trial before stopping it (default: no limit).
        env: the trial's environment (default: this process's); ``NNI_GEN_SEARCH_SPACE`` is
            added to it.

    Returns:
        The search space, ``{key: {"_type": ..., "_value": ...}}``.

    Raises:
        SearchSpaceGenError: ``trial_dir`` is not a folder, or the trial fails, times out, or
            writes no JSON object.
    """
    folder = Path(trial_dir).expanduser()
    if not folder.is_dir():
        raise SearchSpaceGenError(f"trial folder '{folder}' does not exist or is not a folder")
    target = Path(os.path.abspath(Path(file).expanduser()))
    if not target.parent.is_dir():
        raise SearchSpaceGenError(f"folder of the search-space file '{target}' does not exist")
    scratch = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    scratch.unlink(missing_ok=True)
    try:
        trial_env = {**(os.environ if env is None else env), NNI_GEN_SEARCH_SPACE: str(scratch)}
        returncode, output = _run(command, folder, trial_env, timeout)
        if returncode != 0:
            raise SearchSpaceGenError(
                f"trial command {command!r} failed with exit code {returncode}: {_tail(output)}"
            )
        search_space = _read(command, scratch, output)
        try:
            os.replace(scratch, target)
        except OSError as error:
            raise SearchSpaceGenError(
                f"cannot write the search-space file '{target}': {error.strerror}"
            ) from None
    finally:
        scratch.unlink(missing_ok=True)
    return search_space


def _run(command: str, folder: Path, env: dict[str, str], timeout: float | None) -> tuple[int, str]:
    """Run the trial to its end (its whole process group on timeout); exit code and stderr."""
    try:
        process = _start(command, folder, env)
    except OSError as error:
        raise SearchSpaceGenError(f"cannot run trial command {command!r}: {error}") from None
    try:
        _, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_process_group(process)
        raise SearchSpaceGenError(
            f"trial command {command!r} did not finish within {timeout:g} s"
        ) from None
    except BaseException:  # Ctrl-C: the trial runs in its own session, so stop it too
        kill_process_group(process)
        raise
    return process.returncode, stderr


def _start(command: str, folder: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command,
        shell=True,
        cwd=folder,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        errors="replace",
        start_new_session=True,  # its own process group, stopped as a whole
    )


def _read(command: str, dump: Path, output: str) -> dict[str, Any]:
    if not dump.is_file():
        raise SearchSpaceGenError(
            f"trial command {command!r} exited without writing a search space (does it call "
            f"get_and_apply_next_architecture(model)?): {_tail(output)}"
        )
    try:
        search_space = json.loads(dump.read_text(encoding="utf-8"))
    except json.JSONDecodeError as error:
        raise SearchSpaceGenError(
            f"trial command {command!r} wrote a search space that is not JSON ({error})"
        ) from None
    if not isinstance(search_space, dict):
        raise SearchSpaceGenError(
            f"trial command {command!r} wrote a {type(search_space).__name__}, "
            "not a JSON object of choices"
        )
    return search_space


def _tail(output: str) -> str:
    """The last few lines of the trial's stderr, on one line."""
    lines = [line.strip() for line in output.strip().splitlines() if line.strip()]
    if not lines:
        return "no output on stderr"
    tail = " | ".join(lines[-_TAIL_LINES:])
    if len(tail) > _TAIL_CHARS:
        tail = "..." + tail[-_TAIL_CHARS:]
    return f"stderr tail: {tail}"
