"""``nasops ss-gen`` and ``nasops.ss_gen.generate_search_space``: nnictl ss_gen's dry run."""

import json
import os
import re
import shlex
import sys
import time
from pathlib import Path

import pytest

import nasops
from nasops.cli import main
from nasops.ss_gen import DEFAULT_FILE, SearchSpaceGenError, generate_search_space

PYTHON = shlex.quote(sys.executable)
SPACE = {"conv": {"_type": "layer_choice", "_value": ["a", "b"]}}

# An NNI classic-mode trial, unmodified (it imports nni, which ss-gen's environment provides):
# the model's search space is written and the process exits before the code below the call.
TRIAL = """
from collections import OrderedDict
import nni
from torch import nn
from nni.algorithms.nas.pytorch.classic_nas import get_and_apply_next_architecture
from nni.nas.pytorch.mutables import InputChoice, LayerChoice


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = LayerChoice(
            OrderedDict([("conv5x5", nn.Conv2d(1, 2, 5)), ("conv3x3", nn.Conv2d(1, 2, 3))]),
            key="first_conv",
        )
        self.mid_conv = LayerChoice([nn.Conv2d(2, 2, 3), nn.Conv2d(2, 2, 5)], key="mid_conv")
        self.input_switch = InputChoice(n_candidates=2, n_chosen=1, key="skip")


get_and_apply_next_architecture(Net())
nni.report_final_result(1.0)
open("trained.txt", "w").write("the trial went on after the dump")
"""
REFERENCE = {
    "first_conv": {"_type": "layer_choice", "_value": ["conv5x5", "conv3x3"]},
    "mid_conv": {"_type": "layer_choice", "_value": ["0", "1"]},
    "skip": {"_type": "input_choice", "_value": {"candidates": ["", ""], "n_chosen": 1}},
}


def _fake_trial(folder: Path, body: str) -> str:
    """A torch-free trial script running ``body`` (``path`` is the dump target); its command."""
    script = folder / "fake_trial.py"
    script.write_text(f"import os, sys\npath = os.environ['NNI_GEN_SEARCH_SPACE']\n{body}\n")
    return f"{PYTHON} fake_trial.py"


def _writes(content: str) -> str:
    return f"open(path, 'w').write({content!r})"


@pytest.mark.slow  # the trial process imports torch
def test_a_classic_trial_writes_nnis_reference_file(tmp_path, monkeypatch, capsys) -> None:
    root = str(Path(nasops.__file__).resolve().parent.parent)
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([root, os.environ.get("PYTHONPATH", "")]))
    (tmp_path / "trial.py").write_text(TRIAL)
    out = tmp_path / "space.json"
    code = main(["ss-gen", "-t", f"{PYTHON} trial.py", "-d", str(tmp_path), "-f", str(out)])
    assert code == 0, capsys.readouterr().err
    assert out.read_text() == json.dumps(REFERENCE, sort_keys=True, indent=2)
    assert not (tmp_path / "trained.txt").exists()
    assert capsys.readouterr().out == f"nasops ss-gen: wrote 3 choice(s) to '{out}'\n"


def test_nnictl_spellings_default_file_and_folders(tmp_path, monkeypatch, capsys) -> None:
    trial_dir = tmp_path / "trial"
    trial_dir.mkdir()
    command = _fake_trial(trial_dir, _writes(json.dumps(SPACE)))
    monkeypatch.chdir(tmp_path)  # the file is relative to the current folder, as in nnictl
    assert main(["ss-gen", "--trial_command", command, "--trial_dir", "trial"]) == 0
    assert json.loads((tmp_path / DEFAULT_FILE).read_text()) == SPACE
    args = ["ss-gen", "--trial-command", command, "--trial-dir", "trial", "--file", "s.json"]
    assert main(args) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == SPACE
    assert main(args) == 0
    assert capsys.readouterr().out.endswith("(replacing the previous file)\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == [DEFAULT_FILE, "s.json", "trial"]


def test_generate_search_space_returns_the_space(tmp_path) -> None:
    command = _fake_trial(tmp_path, _writes(json.dumps(SPACE)))
    assert generate_search_space(command, tmp_path, tmp_path / "space.json") == SPACE


def test_the_trial_gets_the_environment_given(tmp_path) -> None:
    command = _fake_trial(tmp_path, "open(path, 'w').write(os.environ['SPACE_TEXT'])")
    env = {**os.environ, "SPACE_TEXT": json.dumps(SPACE)}
    assert generate_search_space(command, tmp_path, tmp_path / "s.json", env=env) == SPACE
    assert "SPACE_TEXT" not in os.environ


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            "sys.stderr.write('Traceback\\nValueError: bad model\\n'); sys.exit(3)",
            "failed with exit code 3: stderr tail: Traceback | ValueError: bad model",
        ),
        ("pass", "exited without writing a search space"),
        ("sys.stderr.write('quiet')", "exited without writing a search space (does it call "),
        (_writes("{oops"), "wrote a search space that is not JSON"),
        (_writes("[1, 2]"), "wrote a list, not a JSON object of choices"),
    ],
)
def test_a_failing_trial_is_one_line_and_exit_2(tmp_path, capsys, body, expected) -> None:
    command = _fake_trial(tmp_path, body)
    out = tmp_path / "space.json"
    out.write_text("previous")
    code = main(["ss-gen", "-t", command, "-d", str(tmp_path), "-f", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and err.startswith(f"nasops ss-gen: trial command {command!r}")
    assert expected in err
    assert out.read_text() == "previous"  # a failed run leaves the old file alone
    assert sorted(p.name for p in tmp_path.iterdir()) == ["fake_trial.py", "space.json"]


def test_missing_folders_are_named(tmp_path, capsys) -> None:
    assert main(["ss-gen", "-t", "true", "-d", str(tmp_path / "nope")]) == 2
    assert f"trial folder '{tmp_path / 'nope'}' does not exist" in capsys.readouterr().err
    assert main(["ss-gen", "-t", "true", "-f", str(tmp_path / "no" / "space.json")]) == 2
    assert "folder of the search-space file" in capsys.readouterr().err


def test_a_hanging_trial_is_stopped_with_its_children(tmp_path) -> None:
    pid_file = tmp_path / "pid"
    body = f"open({str(pid_file)!r}, 'w').write(str(os.getpid())); import time; time.sleep(60)"
    command = _fake_trial(tmp_path, body)
    with pytest.raises(SearchSpaceGenError, match=re.escape("did not finish within 1 s")):
        generate_search_space(command, tmp_path, tmp_path / "space.json", timeout=1)
    assert _ends(int(pid_file.read_text())), "the trial's python outlived the timeout"


def _ends(pid: int, within: float = 5.0) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within ``within`` s (SIGKILL is async)."""
    status = Path(f"/proc/{pid}/status")
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if "State:\tZ" in status.read_text():
                return True
        except FileNotFoundError:
            return True
        time.sleep(0.05)
    return False


def test_a_target_that_cannot_be_written_is_named(tmp_path, capsys) -> None:
    command = _fake_trial(tmp_path, _writes(json.dumps(SPACE)))
    (tmp_path / "taken").mkdir()
    assert main(["ss-gen", "-t", command, "-d", str(tmp_path), "-f", str(tmp_path / "taken")]) == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"nasops ss-gen: cannot write the search-space file '{tmp_path / 'taken'}'"
    )
    assert err.count("\n") == 1
