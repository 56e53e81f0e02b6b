"""``nasops search --memory recompute`` and ``--compile``: where they apply, what they set, and
one-line errors where they do not apply."""

import json

import pytest
import torch
from search_helpers import assert_one_line_error

from nasops.search.algorithms import SearchSetup, build_trainer
from nasops.search.supernet import SearchSupernet
from nasops.utils import _reset_global_mutable_counting

pytest.importorskip("sklearn")


@pytest.mark.parametrize(
    ("algo", "flags", "fragments"),
    [
        ("gdas", ["--memory", "recompute"], ["does not apply to --algo gdas", "darts, pdarts"]),
        ("random", ["--compile"], ["--compile does not apply to --algo random", "darts"]),
        ("darts", ["--compile", "--memory", "recompute"], ["cannot be combined"]),
    ],
)
def test_options_that_do_not_apply_fail_in_one_line(run_search, algo, flags, fragments):
    outcome = run_search(*flags, algo=algo)
    assert_one_line_error(outcome, *fragments)
    assert not outcome.out.exists()  # refused before any work


def test_a_recompute_search_runs_and_says_so_in_result_json(run_search):
    outcome = run_search("--memory", "recompute", "--retrain-epochs", "1")
    assert outcome.code == 0, outcome.stderr
    result = json.loads((outcome.out / "result.json").read_text())
    assert (result["memory"], result["compile"]) == ("recompute", False)


def _setup(**options) -> SearchSetup:
    def build(layers: int) -> SearchSupernet:
        _reset_global_mutable_counting()
        return SearchSupernet(1, (8, 8), 10, channels=2, layers=layers)

    data = torch.utils.data.TensorDataset(torch.zeros(4, 1, 8, 8), torch.zeros(4).long())
    return SearchSetup(build, 2, data, data, 1, 2, torch.device("cpu"), progress=False, **options)


def test_the_flags_reach_the_trainers():
    darts = build_trainer("darts", _setup(compile=True))
    assert isinstance(darts.forward, torch._dynamo.eval_frame.OptimizedModule)
    oneshot = build_trainer("oneshot", _setup(memory="recompute"))
    assert oneshot.mutator.memory == "recompute"
    pdarts = build_trainer("pdarts", _setup(memory="recompute"))
    assert pdarts.darts_parameters["memory"] == "recompute"
