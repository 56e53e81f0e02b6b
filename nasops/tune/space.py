"""The classic-mode search space (``nasops ss-gen``'s JSON) as Optuna parameters, and back.

Each mutable is one categorical parameter named by its key, so every sampler sees the space
as it is: a LayerChoice is the index of its candidate, an InputChoice the chosen candidate
indices as one ``"i,j"`` string (one value per allowed subset). A trial's parameters are then
written in NNI's tuner format for ``get_and_apply_next_architecture``, and a finished trial's
as the multi-hot lists ``apply_fixed_architecture`` reads.
"""

from dataclasses import dataclass
from itertools import combinations
from typing import Any

from nasops.tune.errors import TuneInputError

# An InputChoice offering more subsets than this is too large for one categorical parameter.
MAX_SUBSETS = 4096


@dataclass(frozen=True)
class Choice:
    """One mutable of the space: its key, candidate labels and Optuna categories."""

    key: str
    kind: str  # "layer_choice" or "input_choice"
    labels: tuple[str, ...]
    categories: tuple[int | str, ...]

    def indices(self, category: int | str) -> list[int]:
        """The candidate indices a category selects."""
        if self.kind == "layer_choice":
            return [int(category)]
        return [int(i) for i in str(category).split(",") if i]

    def parameter(self, category: int | str) -> dict[str, Any]:
        """NNI's tuner format of one decision: ``{"_value": ..., "_idx": ...}``."""
        chosen = self.indices(category)
        if self.kind == "layer_choice":
            return {"_value": self.labels[chosen[0]], "_idx": chosen[0]}
        return {"_value": [self.labels[i] for i in chosen], "_idx": chosen}

    def multi_hot(self, category: int | str) -> list[bool]:
        """The decision as ``apply_fixed_architecture`` reads it."""
        chosen = set(self.indices(category))
        return [i in chosen for i in range(len(self.labels))]

    def describe(self, category: int | str) -> str:
        """The chosen candidate label(s), for the trials table."""
        value = self.parameter(category)["_value"]
        return value if isinstance(value, str) else "+".join(value)


def _subsets(key: str, size: int, n_chosen: int | None) -> tuple[str, ...]:
    sizes = range(size + 1) if n_chosen is None else (n_chosen,)
    subsets = tuple(",".join(map(str, c)) for k in sizes for c in combinations(range(size), k))
    if not subsets:
        raise TuneInputError(
            f"search space key {key!r}: n_chosen={n_chosen} of {size} candidates selects nothing"
        )
    if len(subsets) > MAX_SUBSETS:
        raise TuneInputError(
            f"search space key {key!r}: {len(subsets)} subsets of its {size} candidates; "
            f"nasops tune samples an InputChoice with at most {MAX_SUBSETS}"
        )
    return subsets


def _choice(key: str, spec: Any) -> Choice:
    kind = spec.get("_type") if isinstance(spec, dict) else None
    value = spec.get("_value") if isinstance(spec, dict) else None
    if kind == "layer_choice" and isinstance(value, list) and value:
        labels = tuple(str(v) for v in value)
        return Choice(key, kind, labels, tuple(range(len(labels))))
    if kind == "input_choice" and isinstance(value, dict):
        candidates, n_chosen = value.get("candidates"), value.get("n_chosen")
        if isinstance(candidates, list) and (n_chosen is None or isinstance(n_chosen, int)):
            labels = tuple(str(v) for v in candidates)
            return Choice(key, kind, labels, _subsets(key, len(labels), n_chosen))
    raise TuneInputError(
        f"search space key {key!r}: {spec!r} is not a classic-mode choice; accepted: "
        '{"_type": "layer_choice", "_value": [names]} or {"_type": "input_choice", '
        '"_value": {"candidates": [...], "n_chosen": k or null}} (as nasops ss-gen writes)'
    )


@dataclass(frozen=True)
class SearchSpace:
    """The choices of a classic-mode search space, in key order."""

    choices: tuple[Choice, ...]

    @classmethod
    def parse(cls, space: dict[str, Any]) -> "SearchSpace":
        """Read ``nasops ss-gen``'s search space; anything else raises TuneInputError."""
        if not isinstance(space, dict) or not space:
            raise TuneInputError(
                f"the search space must be a non-empty JSON object of choices, got {space!r}"
            )
        return cls(tuple(_choice(str(key), space[key]) for key in sorted(space)))

    def suggest(self, trial: Any) -> dict[str, Any]:
        """Ask an Optuna trial for every choice; returns NNI's tuner parameters."""
        return {
            c.key: c.parameter(trial.suggest_categorical(c.key, list(c.categories)))
            for c in self.choices
        }

    def parameters(self, params: dict[str, Any]) -> dict[str, Any]:
        """NNI's tuner parameters of a trial's Optuna ``params``."""
        return {c.key: c.parameter(params[c.key]) for c in self.choices}

    def fixed_architecture(self, params: dict[str, Any]) -> dict[str, list[bool]]:
        """The architecture of a trial's ``params`` for ``apply_fixed_architecture``."""
        return {c.key: c.multi_hot(params[c.key]) for c in self.choices}

    def describe(self, params: dict[str, Any]) -> dict[str, str]:
        """Key → chosen label(s) of a trial's ``params`` (empty when it never sampled)."""
        return {c.key: c.describe(params[c.key]) if c.key in params else "" for c in self.choices}
