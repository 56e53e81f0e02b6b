"""``compile=`` of the DARTS-family trainers: the supernet's forward under ``torch.compile``.

The forward of a DARTS supernet traces whole (``fullgraph=True``): the mutables read the
decisions ``mutator.reset()`` prepared as plain Python lists and tensors, and reduce through
the ``nasops::`` custom ops, which have fake kernels. The softmax weights are new tensors every
step but of the same shape, so the graph is reused; a new graph is compiled only when the
shapes change (a P-DARTS stage: more cells, fewer candidates), and once for each way the
weights require grad (the architecture step needs their gradient, the weight step does not).
"""

from collections.abc import Callable
from typing import Any

import torch
from torch import nn

#: ``False``, ``True`` (torch.compile's default backend, inductor), or a ``backend`` argument of
#: ``torch.compile``: a registered name or a callable.
Compile = bool | str | Callable[..., Any]


def check_compile(compile: Compile, memory: str) -> Compile:
    """``compile`` if it is a :data:`Compile` and ``memory`` allows it (the recompute mode
    does not trace: it reads the weights on the host)."""
    if not (isinstance(compile, (bool, str)) or callable(compile)):
        raise TypeError(
            "compile must be a bool, a torch.compile backend name or a backend callable, got "
            f"{type(compile).__name__}"
        )
    if compile is not False and memory == "recompute":
        raise ValueError(
            "compile and memory='recompute' cannot be combined: the recompute mode reads the "
            "weights on the host and runs its candidates in a custom backward, which does not "
            "trace; choose one"
        )
    return compile


def compiled_forward(model: nn.Module, compile: Compile) -> Callable[..., torch.Tensor]:
    """``model`` itself when ``compile`` is False, else ``torch.compile(model,
    fullgraph=True)`` with the backend ``compile`` gives (``True``: inductor)."""
    if compile is False:
        return model
    backend = "inductor" if compile is True else compile
    return torch.compile(model, fullgraph=True, backend=backend)
