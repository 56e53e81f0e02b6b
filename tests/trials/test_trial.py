"""nasops.trial: the nasops trial files, NNI's local trial protocol, unittest and standalone."""

import json
import logging
import math
import os
import subprocess
import sys

import pytest

import nasops
from nasops import trial
from nasops.compat import nni as compat

_ENV = (
    trial.PARAMETERS_ENV,
    trial.RESULTS_ENV,
    trial.TRIAL_ID_ENV,
    trial.EXPERIMENT_ID_ENV,
    trial.SEQUENCE_ID_ENV,
    "NNI_PLATFORM",
    "NNI_SYS_DIR",
    "NNI_OUTPUT_DIR",
    "NNI_TRIAL_JOB_ID",
    "NNI_EXP_ID",
    "NNI_TRIAL_SEQ_ID",
    "MULTI_PHASE",
    "REUSE_MODE",
)
PARAMS = {"conv": {"_value": "conv3x3", "_idx": 1}, "skip": {"_value": ["a"], "_idx": [0]}}


@pytest.fixture(autouse=True)
def fresh_trial(monkeypatch: pytest.MonkeyPatch) -> None:
    """No platform variables and a new trial process state for each test."""
    for name in _ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(trial, "_state", trial._TrialState())


def test_nasops_top_level_names_are_the_trial_functions() -> None:
    assert nasops.get_next_parameter is trial.get_next_parameter
    assert nasops.report_final_result is trial.report_final_result
    assert nasops.report_intermediate_result is trial.report_intermediate_result


def test_nni_trial_api_under_the_alias() -> None:
    if "nni" in sys.modules and not compat.is_installed():
        pytest.skip("a real nni is imported in this process")
    compat.install()
    try:
        import nni
        import nni.trial

        names = {name: getattr(nni, name) for name in compat._TRIAL_API}
    finally:
        compat.uninstall()
    assert nni.trial is trial
    assert names == {name: getattr(trial, name) for name in compat._TRIAL_API}
    assert {"report_final_result", "get_next_parameter", "get_sequence_id"} <= set(names)


# ------------------------------------------------------------------------------ nasops files


def test_nasops_files_round_trip(tmp_path, monkeypatch) -> None:
    params, results = tmp_path / "params.json", tmp_path / "results.jsonl"
    params.write_text(json.dumps(PARAMS))
    monkeypatch.setenv(trial.PARAMETERS_ENV, str(params))
    monkeypatch.setenv(trial.RESULTS_ENV, str(results))
    monkeypatch.setenv(trial.TRIAL_ID_ENV, "t7")
    monkeypatch.setenv(trial.SEQUENCE_ID_ENV, "7")
    assert trial.current_platform() == "nasops"
    assert trial.get_next_parameter() == PARAMS
    assert trial.get_current_parameter("conv") == PARAMS["conv"]
    trial.report_intermediate_result(0.25)
    trial.report_intermediate_result({"default": 3, "loss": 1.5})
    trial.report_final_result(0.75)
    lines = [json.loads(line) for line in results.read_text().splitlines()]
    assert lines == [
        {"type": "PERIODICAL", "sequence": 0, "value": 0.25},
        {"type": "PERIODICAL", "sequence": 1, "value": 3},
        {"type": "FINAL", "sequence": 0, "value": 0.75},
    ]
    assert (trial.get_trial_id(), trial.get_sequence_id()) == ("t7", 7)
    assert trial.get_experiment_id() == "STANDALONE"


def test_reports_survive_a_later_crash(tmp_path) -> None:
    results = tmp_path / "results.jsonl"
    # The module alone (stdlib only), so the subprocess does not pay for importing torch.
    script = (
        "import importlib.util as u, os, sys; "
        "s = u.spec_from_file_location('t', sys.argv[1]); t = u.module_from_spec(s); "
        "s.loader.exec_module(t); t.report_intermediate_result(1.0); "
        "t.report_final_result(2.0); os._exit(3)"
    )
    env = {**os.environ, trial.RESULTS_ENV: str(results)}
    command = [sys.executable, "-c", script, trial.__file__]
    done = subprocess.run(command, env=env, capture_output=True, text=True)
    assert done.returncode == 3, done.stderr
    values = [json.loads(line)["value"] for line in results.read_text().splitlines()]
    assert values == [1.0, 2.0]


def test_results_without_a_parameter_file_give_no_parameters(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv(trial.RESULTS_ENV, str(tmp_path / "results.jsonl"))
    assert trial.current_platform() == "nasops"
    assert trial.get_next_parameter() is None
    assert trial.get_current_parameter("conv") is None


@pytest.mark.parametrize(
    ("content", "match"),
    [(None, "no such parameter file"), ("{oops", "is not JSON"), ("[1, 2]", "JSON object")],
)
def test_bad_nasops_parameter_file(tmp_path, monkeypatch, content, match) -> None:
    path = tmp_path / "params.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv(trial.PARAMETERS_ENV, str(path))
    with pytest.raises(ValueError, match=match):
        trial.get_next_parameter()


@pytest.mark.parametrize(
    ("value", "error", "match"),
    [
        (True, TypeError, "must be an int or float"),
        ("0.5", TypeError, "got str"),
        (None, TypeError, "got NoneType"),
        ({"loss": 1.0}, TypeError, "numeric 'default'"),
        ({"default": "x"}, TypeError, r"metric\['default'\] must be"),
        (math.nan, ValueError, "must be finite"),
        ({"default": math.inf}, ValueError, "must be finite"),
    ],
)
def test_bad_metric_values(tmp_path, monkeypatch, value, error, match) -> None:
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(trial.RESULTS_ENV, str(results))
    with pytest.raises(error, match=match):
        trial.report_final_result(value)
    with pytest.raises(error, match=match):
        trial.report_intermediate_result(value)
    assert not results.exists()


def test_numpy_numbers_are_metrics(tmp_path, monkeypatch) -> None:
    np = pytest.importorskip("numpy")
    results = tmp_path / "results.jsonl"
    monkeypatch.setenv(trial.RESULTS_ENV, str(results))
    trial.report_final_result(np.float32(0.5))
    trial.report_final_result(np.int64(4))
    assert [json.loads(x)["value"] for x in results.read_text().splitlines()] == [0.5, 4]


# --------------------------------------------------------------------------- NNI local protocol


def _local(monkeypatch, tmp_path, platform: str = "local") -> None:
    monkeypatch.setenv("NNI_PLATFORM", platform)
    monkeypatch.setenv("NNI_SYS_DIR", str(tmp_path))
    monkeypatch.setenv("NNI_OUTPUT_DIR", str(tmp_path / "output"))
    monkeypatch.setenv("NNI_TRIAL_JOB_ID", "Ab12c")
    monkeypatch.setenv("NNI_EXP_ID", "exp01")
    monkeypatch.setenv("NNI_TRIAL_SEQ_ID", "4")


def _read_nni_metrics(path) -> list[dict]:
    """Parse NNI's metrics file framing: ``ME`` + 6-digit byte length + the JSON line."""
    data, records = path.read_bytes(), []
    while data:
        assert data[:2] == b"ME"
        size = int(data[2:8])
        records.append(json.loads(data[8 : 8 + size].decode("utf8")))
        data = data[8 + size :]
    return records


def test_nni_local_protocol(tmp_path, monkeypatch) -> None:
    _local(monkeypatch, tmp_path)
    record = {"parameter_id": 3, "parameter_source": "algorithm", "parameters": PARAMS}
    (tmp_path / "parameter.cfg").write_text(json.dumps(record))
    assert trial.current_platform() == "local"
    assert trial.get_next_parameter() == PARAMS
    trial.report_intermediate_result({"default": 0.5, "loss": 2.0})
    trial.report_final_result(0.9)
    records = _read_nni_metrics(tmp_path / ".nni" / "metrics")
    assert records == [
        {
            "parameter_id": 3,
            "trial_job_id": "Ab12c",
            "type": "PERIODICAL",
            "sequence": 0,
            "value": '{"default": 0.5, "loss": 2.0}',
        },
        {
            "parameter_id": 3,
            "trial_job_id": "Ab12c",
            "type": "FINAL",
            "sequence": 0,
            "value": "0.9",
        },
    ]
    assert (tmp_path / "output").is_dir()
    ids = (trial.get_trial_id(), trial.get_experiment_id(), trial.get_sequence_id())
    assert ids == ("Ab12c", "exp01", 4)
    assert trial.get_next_parameter() is None  # one parameter set per trial (not multi-phase)


def test_nni_local_multiphase_and_parameter_request(tmp_path, monkeypatch) -> None:
    _local(monkeypatch, tmp_path)
    monkeypatch.setenv("MULTI_PHASE", "true")
    (tmp_path / "parameter.cfg").write_text(json.dumps({"parameter_id": 0, "parameters": {}}))
    assert trial.get_next_parameter() == {}
    second = tmp_path / "parameter_1.cfg"

    def tuner_answers(_seconds: float) -> None:  # the tuner writes the file while we poll
        second.write_text(json.dumps({"parameter_id": 1, "parameters": PARAMS}))

    monkeypatch.setattr(trial.time, "sleep", tuner_answers)
    assert trial.get_next_parameter() == PARAMS
    [request] = _read_nni_metrics(tmp_path / ".nni" / "metrics")
    assert request == {
        "trial_job_id": "Ab12c",
        "type": "REQUEST_PARAMETER",
        "sequence": 0,
        "parameter_index": 1,
    }


def test_nni_remote_platform_prints_records(tmp_path, monkeypatch, capsys) -> None:
    _local(monkeypatch, tmp_path, platform="remote")
    (tmp_path / "parameter.cfg").write_text(json.dumps({"parameter_id": 5, "parameters": {}}))
    trial.get_next_parameter()
    trial.report_final_result(1)
    out = capsys.readouterr().out.strip()
    assert out.startswith("NNISDK_MEb'") and out.endswith("'")
    assert json.loads(out[len("NNISDK_MEb'") : -1])["value"] == "1"


def test_nni_local_report_before_parameters(tmp_path, monkeypatch) -> None:
    _local(monkeypatch, tmp_path)
    message = "nni.get_next_parameter\\(\\) needs to be called before report_final_result"
    with pytest.raises(AssertionError, match=message):
        trial.report_final_result(1.0)
    with pytest.raises(RuntimeError, match="before report_intermediate_result"):
        trial.report_intermediate_result(1.0)


def test_nni_local_needs_sys_dir(monkeypatch) -> None:
    monkeypatch.setenv("NNI_PLATFORM", "local")
    with pytest.raises(RuntimeError, match="needs NNI_SYS_DIR"):
        trial.get_next_parameter()


# ------------------------------------------------------------------ standalone and unittest


def test_standalone(caplog) -> None:
    assert trial.current_platform() == "standalone"
    with pytest.warns(RuntimeWarning, match="without a tuner"):
        assert trial.get_next_parameter() == {}
    with caplog.at_level(logging.INFO, logger="nasops.trial"):
        trial.report_intermediate_result(0.5)
        trial.report_final_result(0.75)
    assert caplog.messages == ["Intermediate result: 0.5  (Index 0)", "Final result: 0.75"]
    ids = (trial.get_trial_id(), trial.get_experiment_id(), trial.get_sequence_id())
    assert ids == ("STANDALONE", "STANDALONE", 0)


def test_unittest_platform(monkeypatch, caplog) -> None:
    monkeypatch.setenv("NNI_PLATFORM", "unittest")
    assert trial.get_next_parameter() is None
    assert trial.get_current_parameter() is None
    with caplog.at_level(logging.INFO, logger="nasops.trial"):
        trial.report_final_result(2)
    assert caplog.messages == ["Final result: 2"]
    assert (trial.get_trial_id(), trial.get_experiment_id()) == ("fakeidtr", "fakeidex")
