"""The exported-architecture format: decision ↔ human-readable JSON value, per mutable.

Exported values are a candidate name or index when one is selected, a list of them when
several are, ``[]`` when none is, and the raw list of weights for a genuinely weighted
decision. Names are used for a LayerChoice whose names are unique and not all digits (i.e.
OrderedDict candidates), and for an InputChoice whose ``choose_from`` entries are unique.
"""

from numbers import Integral, Real
from typing import Any

from nasops.mutables import InputChoice, LayerChoice
from nasops.utils import to_list


def _labels(mutable: LayerChoice | InputChoice) -> tuple[list[str], bool]:
    """The candidate labels and whether export writes them instead of indices."""
    if isinstance(mutable, LayerChoice):
        names = mutable.names
        return names, len(set(names)) == len(names) and not all(n.isdigit() for n in names)
    names = mutable.choose_from
    return names, len(set(names)) == mutable.n_candidates


def _size(mutable: LayerChoice | InputChoice) -> int:
    return len(mutable) if isinstance(mutable, LayerChoice) else mutable.n_candidates


def to_human_readable(mutable: LayerChoice | InputChoice, sampled: Any) -> Any:
    """Convert one ``sample_final()`` value (mask tensor, array or list) for ``export()``."""
    values = to_list(sampled)
    if not all(v == 0 or v == 1 for v in values):
        return values
    assert len(values) == _size(mutable), (
        f"Results returned from 'sample_final()' ({mutable.key}: {values}) either too short or "
        "too long."
    )
    labels, named = _labels(mutable)
    chosen = [labels[i] if named else i for i, v in enumerate(values) if v]
    return chosen[0] if len(chosen) == 1 else chosen


def from_human_readable(mutable: LayerChoice | InputChoice, value: Any) -> list:
    """Convert one fixed-architecture value to a multi-hot list (bools, or floats as weights).

    A list of bools or of floats as long as the candidates is a multi-hot as it stands.
    Otherwise every element is a candidate name or an index (so ``[0, 1, 0]`` means indices 0
    and 1, as in NNI). An unknown name or an out-of-range index raises ``ValueError`` (NNI
    silently selected nothing: deliberate fix 7).
    """
    values = to_list(value)
    if not isinstance(values, list):
        values = [values]
    size = _size(mutable)
    multi_hot = all(isinstance(v, bool) for v in values) or all(
        isinstance(v, float) for v in values
    )
    if multi_hot and len(values) == size:
        return values
    chosen = {_index(mutable, v, size) for v in values}
    return [i in chosen for i in range(size)]


def _index(mutable: LayerChoice | InputChoice, v: Any, size: int) -> int:
    labels, _ = _labels(mutable)
    if isinstance(v, str):
        if v not in labels:
            raise ValueError(
                f"fixed architecture: '{mutable.key}' has no candidate named {v!r}; "
                f"valid names are {labels}"
            )
        return labels.index(v)
    is_index = isinstance(v, Integral) or (isinstance(v, Real) and float(v).is_integer())
    if not is_index or not 0 <= int(v) < size:
        raise ValueError(
            f"fixed architecture: index {v!r} for '{mutable.key}' is out of range; "
            f"valid indices are 0..{size - 1} (or a candidate name, or a multi-hot list of "
            f"{size} bools)"
        )
    return int(v)
