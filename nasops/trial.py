"""The trial side of a tuner: get this trial's parameters, report its metrics.

The same calls work in four settings, picked from the environment at each call:

- ``nasops``: ``NASOPS_TRIAL_PARAMETERS`` names a JSON file holding the parameter dict (the
  tuner format ``{key: {"_value": ..., "_idx": ...}}``) and ``NASOPS_TRIAL_RESULTS`` a JSON-lines
  file that every report appends one line to, ``{"type": "PERIODICAL" | "FINAL", "sequence": n,
  "value": x}``, flushed and fsynced, so a tuner reading it after the trial ends (even after a
  later crash) sees every report made. ``nasops tune`` runs trials this way.
- ``local`` (``NNI_PLATFORM`` set to anything but ``unittest``): NNI 2.8's local trial protocol,
  so the trial runs unchanged in an nnictl experiment. The parameters are read from
  ``$NNI_SYS_DIR/parameter.cfg`` (``parameter_<i>.cfg`` in multi-phase mode; asked for with a
  ``REQUEST_PARAMETER`` record and polled for when missing), and each metric is NNI's JSON
  record, framed ``ME<6-digit length><record>\\n`` in ``$NNI_SYS_DIR/.nni/metrics``, or printed
  as ``NNISDK_MEb'<record>'`` on stdout for remote platforms and reuse mode.
- ``unittest`` (``NNI_PLATFORM=unittest``): no parameters (``None``), reports are logged.
- ``standalone`` (none of the above): as NNI's standalone platform, ``get_next_parameter()``
  warns and returns ``{}``, and reports are logged.

A metric is a finite number (``int`` or ``float``, not ``bool``), or, as NNI allows, a dict whose
``"default"`` entry is one (the other entries ride along to NNI's web portal).
"""

import json
import logging
import math
import os
import time
import warnings
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

PARAMETERS_ENV = "NASOPS_TRIAL_PARAMETERS"
RESULTS_ENV = "NASOPS_TRIAL_RESULTS"
# Optional identities a nasops tuner may give its trials (defaults: NNI's standalone ones).
TRIAL_ID_ENV = "NASOPS_TRIAL_ID"
EXPERIMENT_ID_ENV = "NASOPS_EXPERIMENT_ID"
SEQUENCE_ID_ENV = "NASOPS_TRIAL_SEQUENCE"

_STANDALONE_ID = "STANDALONE"
_MAX_RECORD = 1000000  # NNI's limit on one metric record, in characters
_POLL_SECONDS = 3.0  # how often NNI's local platform looks for a parameter file
_NOT_FETCHED = "nni.get_next_parameter() needs to be called before {}"

_logger = logging.getLogger(__name__)


@dataclass
class _TrialState:
    """What one trial process remembers between calls (NNI keeps the same module globals)."""

    params: dict[str, Any] | None = None  # the last record fetched (NNI: ``_params``)
    param_index: int = 0  # parameter files fetched so far (local protocol)
    intermediate_seq: int = 0  # sequence number of the next intermediate report


_state = _TrialState()


def current_platform() -> str:
    """``"nasops"``, ``"local"``, ``"unittest"`` or ``"standalone"``, from the environment."""
    if os.environ.get(PARAMETERS_ENV) or os.environ.get(RESULTS_ENV):
        return "nasops"
    platform = os.environ.get("NNI_PLATFORM")
    if platform is None:
        return "standalone"
    return "unittest" if platform == "unittest" else "local"


# ------------------------------------------------------------------------------ parameters


def get_next_parameter() -> dict[str, Any] | None:
    """This trial's parameter dict (``None`` when the platform has none to give).

    Raises:
        ValueError: the nasops parameter file is missing or holds no JSON object.
    """
    platform = current_platform()
    if platform == "nasops":
        parameters = _read_nasops_parameters()
        record = None if parameters is None else {"parameter_id": None, "parameters": parameters}
    elif platform == "local":
        record = _local_next_parameter()
    elif platform == "unittest":
        record = None
    else:
        warnings.warn(
            "Running trial code without a tuner: get_next_parameter() returns {} "
            "(NNI's standalone behaviour)",
            RuntimeWarning,
            stacklevel=2,
        )
        record = {"parameter_id": None, "parameters": {}}
    _state.params = record
    return None if record is None else record["parameters"]


def get_next_parameters() -> dict[str, Any] | None:
    """Alias of :func:`get_next_parameter` (as in NNI)."""
    return get_next_parameter()


def get_current_parameter(tag: str | None = None) -> Any:
    """The parameters last returned by :func:`get_next_parameter` (or their entry ``tag``)."""
    if _state.params is None:
        return None
    parameters = _state.params["parameters"]
    return parameters if tag is None else parameters[tag]


def _read_nasops_parameters() -> dict[str, Any] | None:
    path = os.environ.get(PARAMETERS_ENV)
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as file:
            parameters = json.load(file)
    except FileNotFoundError:
        raise ValueError(f"{PARAMETERS_ENV}={path!r}: no such parameter file") from None
    except json.JSONDecodeError as error:
        raise ValueError(f"{PARAMETERS_ENV}={path!r} is not JSON: {error}") from None
    if not isinstance(parameters, dict):
        raise ValueError(
            f"{PARAMETERS_ENV}={path!r} must hold a JSON object of parameters "
            f"({{key: {{'_value': ..., '_idx': ...}}}}), got {type(parameters).__name__}"
        )
    return parameters


def _local_next_parameter() -> dict[str, Any] | None:
    """NNI local platform's ``get_next_parameter``: the record from the next parameter file."""
    sys_dir = _local_sys_dir()
    index = _state.param_index
    multiphase = os.environ.get("MULTI_PHASE") in ("true", "True")
    if not multiphase and index > 0:
        return None
    name = f"parameter_{index}.cfg" if multiphase and index > 0 else "parameter.cfg"
    path = sys_dir / name
    if not path.is_file():
        _send_local(
            {
                "trial_job_id": os.environ.get("NNI_TRIAL_JOB_ID"),
                "type": "REQUEST_PARAMETER",
                "sequence": 0,
                "parameter_index": index,
            }
        )
    while not (path.is_file() and path.stat().st_size > 0):
        time.sleep(_POLL_SECONDS)
    with open(path, encoding="utf-8") as file:
        record = json.load(file)
    _state.param_index += 1
    return record


# ---------------------------------------------------------------------------------- reports


def report_intermediate_result(value: float | dict[str, Any]) -> None:
    """Report one intermediate metric (e.g. per epoch); numbered 0, 1, 2, ... per process.

    Raises:
        TypeError: ``value`` is not a number nor a dict with a numeric ``"default"``.
        ValueError: the number is not finite.
    """
    _report("PERIODICAL", _state.intermediate_seq, value)
    _state.intermediate_seq += 1


def report_final_result(value: float | dict[str, Any]) -> None:
    """Report the trial's final metric, the one a tuner optimises.

    Raises:
        TypeError: ``value`` is not a number nor a dict with a numeric ``"default"``.
        ValueError: the number is not finite.
    """
    _report("FINAL", 0, value)


def _report(kind: str, sequence: int, value: Any) -> None:
    number = _metric_number(value)
    platform = current_platform()
    if platform == "nasops" and os.environ.get(RESULTS_ENV):
        line = json.dumps({"type": kind, "sequence": sequence, "value": number})
        _append_synced(Path(os.environ[RESULTS_ENV]), line + "\n")
    elif platform == "local":
        if not _state.params:
            caller = "report_final_result" if kind == "FINAL" else "report_intermediate_result"
            raise TrialProtocolError(_NOT_FETCHED.format(caller))
        _send_local(
            {
                "parameter_id": _state.params.get("parameter_id"),
                "trial_job_id": os.environ.get("NNI_TRIAL_JOB_ID"),
                "type": kind,
                "sequence": sequence,
                "value": json.dumps(
                    {**value, "default": number} if isinstance(value, dict) else number
                ),
            }
        )
    elif kind == "FINAL":
        _logger.info("Final result: %s", value)
    else:
        _logger.info("Intermediate result: %s  (Index %s)", value, sequence)


def _metric_number(value: Any) -> int | float:
    """The number a tuner optimises: ``value`` itself, or ``value["default"]``."""
    where = "metric"
    number = value
    if isinstance(value, dict):
        if "default" not in value:
            raise TypeError(
                f"a dict metric needs a numeric 'default' entry, got keys {sorted(map(str, value))}"
            )
        where, number = "metric['default']", value["default"]
    if isinstance(number, bool) or not isinstance(number, Real):
        raise TypeError(
            f"{where} must be an int or float (or a dict with a numeric 'default'), "
            f"got {type(number).__name__}: {number!r}"
        )
    number = int(number) if isinstance(number, Integral) else float(number)
    if not math.isfinite(number):
        raise ValueError(f"{where} must be finite, got {number!r}")
    return number


class TrialProtocolError(RuntimeError, AssertionError):
    """A trial-protocol call out of order (an ``AssertionError`` in NNI: both catch it)."""


# -------------------------------------------------------------------------- NNI local files


def _local_sys_dir() -> Path:
    sys_dir = os.environ.get("NNI_SYS_DIR")
    if not sys_dir:
        raise RuntimeError(
            f"NNI_PLATFORM={os.environ.get('NNI_PLATFORM')!r} (NNI's local trial protocol) needs "
            "NNI_SYS_DIR, the trial folder nnictl sets; unset NNI_PLATFORM to run standalone"
        )
    output_dir = os.environ.get("NNI_OUTPUT_DIR")
    if output_dir:
        os.makedirs(output_dir, exist_ok=True)  # NNI's platform makes it for the trial
    return Path(sys_dir)


def _send_local(record: dict[str, Any]) -> None:
    """NNI local platform's ``send_metric``: the metrics file, or stdout off the local machine."""
    text = json.dumps(record)
    if len(text) >= _MAX_RECORD:
        raise ValueError(f"metric record too long ({len(text)} characters, NNI's limit is 10^6)")
    reuse = os.environ.get("REUSE_MODE") in ("true", "True")
    if os.environ.get("NNI_PLATFORM") != "local" or reuse:
        print(f"NNISDK_MEb'{text}'", flush=True)
        return
    metrics = _local_sys_dir() / ".nni" / "metrics"
    metrics.parent.mkdir(parents=True, exist_ok=True)
    data = (text + "\n").encode("utf8")
    with open(metrics, "ab") as file:
        file.write(b"ME%06d%b" % (len(data), data))
    os.utime(metrics)  # NNI touches the file so nnictl's watcher sees the write


def _append_synced(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8") as file:
        file.write(text)
        file.flush()
        os.fsync(file.fileno())


# ------------------------------------------------------------------------------- identities


def get_trial_id() -> str:
    """This trial's id (nnictl's ``NNI_TRIAL_JOB_ID``, ``NASOPS_TRIAL_ID``, or ``STANDALONE``)."""
    return _identity(TRIAL_ID_ENV, "NNI_TRIAL_JOB_ID", "fakeidtr", _STANDALONE_ID)


def get_experiment_id() -> str:
    """The experiment's id (``NNI_EXP_ID``, ``NASOPS_EXPERIMENT_ID``, or ``STANDALONE``)."""
    return _identity(EXPERIMENT_ID_ENV, "NNI_EXP_ID", "fakeidex", _STANDALONE_ID)


def get_sequence_id() -> int:
    """The trial's number in its experiment (``NNI_TRIAL_SEQ_ID``, ``NASOPS_TRIAL_SEQUENCE``, 0)."""
    return int(_identity(SEQUENCE_ID_ENV, "NNI_TRIAL_SEQ_ID", "0", "0"))


def _identity(nasops_name: str, nni_name: str, unittest_value: str, default: str) -> str:
    """An id from the platform's variable; NNI's fixed values under unittest and standalone."""
    platform = current_platform()
    if platform == "unittest":
        return unittest_value
    if platform == "standalone":
        return default
    return os.environ.get(nasops_name if platform == "nasops" else nni_name, default)


__all__ = [
    "EXPERIMENT_ID_ENV",
    "PARAMETERS_ENV",
    "RESULTS_ENV",
    "SEQUENCE_ID_ENV",
    "TRIAL_ID_ENV",
    "TrialProtocolError",
    "current_platform",
    "get_current_parameter",
    "get_experiment_id",
    "get_next_parameter",
    "get_next_parameters",
    "get_sequence_id",
    "get_trial_id",
    "report_final_result",
    "report_intermediate_result",
]
