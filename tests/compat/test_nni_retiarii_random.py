"""``nni.retiarii.oneshot.pytorch.random.PathSamplingInputChoice`` under the NNI alias."""

import sys

import pytest
import torch

from nasops.compat import nni as compat
from nasops.compat.nni_retiarii_random import PathSamplingInputChoice
from nasops.mutables import InputChoice


def test_the_alias_path_and_nnis_isinstance_check() -> None:
    if "nni" in sys.modules and not compat.is_installed():
        pytest.skip("a real nni is imported in this process")
    compat.install()
    try:
        from nni.retiarii.oneshot.pytorch.random import PathSamplingInputChoice as aliased
    finally:
        compat.uninstall()
    assert aliased is PathSamplingInputChoice
    # NNI's ENAS example cell takes its v1 branch on a v1 InputChoice.
    assert not isinstance(InputChoice(n_candidates=2, n_chosen=1, key="k"), aliased)


def test_it_returns_the_sampled_input_or_the_sum_of_the_sampled_ones() -> None:
    choice = PathSamplingInputChoice(InputChoice(n_candidates=3, n_chosen=None, key="k"))
    assert (len(choice), choice.n_chosen) == (3, None)
    xs = [torch.full((2,), float(v)) for v in (1, 2, 4)]
    with pytest.raises(RuntimeError, match="set 'sampled'"):
        choice(xs)
    choice.sampled = 1
    assert choice(xs) is xs[1]
    assert choice.mask.tolist() == [False, True, False]
    choice.sampled = [0, 2]
    assert choice(xs).tolist() == [5.0, 5.0]
    assert choice.mask.tolist() == [True, False, True]
