"""The ``memory=`` modes of mixed ops, shared by the NNI-style and the mmrazor-style mutators.

``"default"`` keeps every candidate's activations for backward (one fused reduction over the
outputs); ``"recompute"`` recomputes the candidates in backward, one at a time, instead of
keeping their activations (on the CPU only those with parameters;
:func:`nasops.ops.recompute.recompute_reduce`): less memory for about one more forward.
"""

import warnings

MEMORY_MODES = ("default", "recompute")


def check_memory(memory: str) -> str:
    """``memory`` if it is a mode; else a ``ValueError`` naming the accepted ones."""
    if memory not in MEMORY_MODES:
        raise ValueError(f"memory must be one of {MEMORY_MODES}, got {memory!r}")
    return memory


def warn_default_once(seen: set[str], key: str, reduction: str) -> None:
    """Warn, once per key in ``seen``, that a choice with ``reduction`` runs in the default
    mode: only "sum" and "mean" are recomputed ("concat" and "none" keep their outputs)."""
    if key in seen:
        return
    seen.add(key)
    warnings.warn(
        f"memory='recompute' does not apply to the choice '{key}' with reduction "
        f"'{reduction}': it runs in the default mode (only 'sum' and 'mean' are recomputed)",
        RuntimeWarning,
        stacklevel=3,
    )
