"""Allocator regimes: names are checked; 'reuse' applies on glibc (in a child process, since
glibc settings are process-wide)."""

import subprocess
import sys

import pytest

from nasops.bench import allocator


def test_an_unknown_regime_is_rejected_with_the_accepted_names() -> None:
    with pytest.raises(ValueError, match="default"):
        allocator.set_regime("jemalloc")


@pytest.mark.skipif(not (allocator.glibc_version() or "").startswith("glibc"), reason="needs glibc")
def test_reuse_regime_applies_on_glibc() -> None:
    code = (
        "import torch; from nasops.bench import allocator; allocator.set_regime('reuse'); "
        "torch.empty(1 << 24).fill_(1)"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
