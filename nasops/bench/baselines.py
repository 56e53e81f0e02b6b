"""Memory-bandwidth baselines measured beside the ops: STREAM COPY and TRIAD in torch.

Bytes are counted as STREAM counts them (COPY 2 streams, TRIAD 3; the write-allocate read of
the output is not counted), the same convention as the ops' useful bytes, so the ratio of an
op's useful GB/s to TRIAD's says how close it runs to what one torch kernel reaches here.
"""

from collections.abc import Callable
from dataclasses import dataclass

import torch


@dataclass(frozen=True)
class Baseline:
    name: str
    label: str
    streams: int  # tensors of N elements read or written, STREAM-counted

    def useful_bytes(self, n: int, itemsize: int) -> int:
        return self.streams * n * itemsize


COPY = Baseline("copy", "c.copy_(a)", 2)
TRIAD = Baseline("triad", "torch.add(a, b, alpha=s, out=c)", 3)
BASELINES = (COPY, TRIAD)


class Buffers:
    """The three pre-allocated tensors ``a, b, c`` the baselines run on."""

    def __init__(self, n: int, dtype: torch.dtype, device: str) -> None:
        self.a = torch.randn(n, dtype=dtype, device=device)
        self.b = torch.randn(n, dtype=dtype, device=device)
        self.c = torch.empty(n, dtype=dtype, device=device)

    def calls(self) -> dict[str, Callable[[], object]]:
        a, b, c = self.a, self.b, self.c
        return {
            COPY.name: lambda: c.copy_(a),
            TRIAD.name: lambda: torch.add(a, b, alpha=0.5, out=c),
        }
