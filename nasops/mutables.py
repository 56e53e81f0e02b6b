"""The mutables: modules whose behaviour a mutator decides (NNI v1's ``nni.nas.pytorch.mutables``).

A mutable holds the weights of every candidate; the *decision* (which candidates run, and with
what weight) belongs to the mutator the model was parsed by. The mutable only forwards its call
to that mutator, which runs the active candidates and reduces their outputs.
"""

import warnings
from collections import OrderedDict
from typing import Any

import torch
from torch import nn

from nasops._keys import make_key

_RESERVED_NAMES = ("length", "reduction", "return_mask", "_key", "key", "names")


class Mutable(nn.Module):
    """Base class of every searchable module.

    A mutable is identified by its **key**. Mutables with equal keys are one decision: the
    mutator decides once per key and every mutable with that key follows (use it to share a
    choice between repeated cells). Without an explicit key, the key is the class name plus a
    process-wide counter (``LayerChoice1``, ``InputChoice2``, ...); see
    :func:`nasops.utils._reset_global_mutable_counting` when you build the same model twice.

    Args:
        key: the key; converted to ``str`` (with a warning) when it is not one.
    """

    def __init__(self, key: Any = None) -> None:
        super().__init__()
        self._key = make_key(self, key)
        # NNI v1 defines these hook slots and never uses them; kept for code that reads them.
        self.init_hook = self.forward_hook = None

    def __deepcopy__(self, memodict: Any = None) -> "Mutable":
        raise NotImplementedError("Deep copy doesn't work for mutables.")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self._check_built()
        return super().__call__(*args, **kwargs)

    def set_mutator(self, mutator: Any) -> None:
        """Attach the mutator that decides this mutable (done once, by parsing).

        The mutator is kept outside ``_modules`` so it is neither a submodule nor in the
        model's ``state_dict``.
        """
        if "mutator" in self.__dict__:
            raise RuntimeError(
                "`set_mutator` is called more than once. Did you parse the search space "
                "multiple times? Or did you apply multiple fixed architectures?"
            )
        self.__dict__["mutator"] = mutator

    @property
    def key(self) -> str:
        """The decision identity (read-only)."""
        return self._key

    @property
    def name(self) -> str:
        """The dotted module path assigned by parsing (``cell1.op``); the key before parsing."""
        return self.__dict__.get("_name", self._key)

    @name.setter
    def name(self, name: str) -> None:
        self.__dict__["_name"] = name

    def _check_built(self) -> None:
        if "mutator" not in self.__dict__:
            raise ValueError(
                f"Mutator not set for {self}. You might have forgotten to initialize and apply "
                "your mutator. Or did you initialize a mutable on the fly in forward pass? Move "
                "to `__init__` so that trainer can locate all your mutables. See NNI docs for "
                "more details."
            )


class MutableScope(Mutable):
    """Marks a sub-network (a cell, a node) as one unit of the search space.

    Scopes give the search space its tree shape: the mutables inside a scope become its children
    in ``mutator.mutables``, and an :class:`InputChoice` can name a scope's key in
    ``choose_from`` to say "this input is that scope's output". Mutators may use the tree when
    sampling, or override ``enter_mutable_scope``/``exit_mutable_scope``, called around each
    call of a parsed scope. A scope is never part of a decision dict.

    Args:
        key: the scope's key (required, like NNI; ``None`` gives an automatic key).
    """

    def __init__(self, key: Any) -> None:
        super().__init__(key=key)

    def _check_built(self) -> None:
        """A scope needs no mutator: unparsed, it is a plain module."""

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        mutator = self.__dict__.get("mutator")
        if mutator is None:
            return super().__call__(*args, **kwargs)
        mutator.enter_mutable_scope(self)
        try:
            return super().__call__(*args, **kwargs)
        finally:
            mutator.exit_mutable_scope(self)


class LayerChoice(Mutable):
    """Chooses among candidate modules; usually one runs, a mutator may select several.

    Every candidate receives the same ``*args, **kwargs``. Only the candidates the decision
    selects are called; their outputs are reduced by ``reduction`` when several are selected.

    Args:
        op_candidates: a list of modules (named ``"0"``, ``"1"``, ...) or an ``OrderedDict`` of
            named modules; names are the state_dict prefixes and the names ``export()`` writes.
        reduction: "sum", "mean" (divides by the number selected), "concat" (along dim 1) or
            "none" (the list of outputs).
        return_mask: return ``(output, mask)`` instead of ``output``.
        key: see :class:`Mutable`.

    The candidates form a container: ``lc[i]``, ``lc["name"]``, ``lc[1:3]`` (a list),
    ``lc[i] = module``, ``del lc[i]``, ``len(lc)``, ``iter(lc)``.
    """

    def __init__(
        self,
        op_candidates: list[nn.Module] | OrderedDict,
        reduction: str = "sum",
        return_mask: bool = False,
        key: Any = None,
    ) -> None:
        super().__init__(key=key)
        self.names: list[str] = []
        if isinstance(op_candidates, OrderedDict):
            for name, module in op_candidates.items():
                assert name not in _RESERVED_NAMES, (
                    f"Please don't use a reserved name '{name}' for your module."
                )
                self.add_module(name, module)
                self.names.append(name)
        elif isinstance(op_candidates, list):
            for i, module in enumerate(op_candidates):
                self.add_module(str(i), module)
                self.names.append(str(i))
        else:
            raise TypeError(f"Unsupported op_candidates type: {type(op_candidates)}")
        self.reduction = reduction
        self.return_mask = return_mask

    def __getitem__(self, idx: int | str | slice) -> Any:
        if isinstance(idx, str):
            return self._modules[idx]
        return list(self)[idx]

    def __setitem__(self, idx: int | str, module: nn.Module | None) -> None:
        # An unknown name registers a child without adding a candidate, as NNI does.
        setattr(self, idx if isinstance(idx, str) else self.names[idx], module)

    def __delitem__(self, idx: int | str | slice) -> None:
        if isinstance(idx, slice):
            for name in self.names[idx]:
                delattr(self, name)
        else:
            if isinstance(idx, str):
                name, idx = idx, self.names.index(idx)
            else:
                name = self.names[idx]
            delattr(self, name)
        del self.names[idx]

    def __len__(self) -> int:
        return len(self.names)

    def __iter__(self) -> Any:
        return (self._modules[name] for name in self.names)

    @property
    def length(self) -> int:
        """Deprecated: use ``len(layer_choice)``."""
        warnings.warn(
            "layer_choice.length is deprecated. Use `len(layer_choice)` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return len(self)

    @property
    def choices(self) -> list[nn.Module]:
        """Deprecated: use ``list(layer_choice)``."""
        warnings.warn(
            "layer_choice.choices is deprecated. Use `list(layer_choice)` instead.",
            DeprecationWarning,
            stacklevel=2,
        )
        return list(self)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        out, mask = self.mutator.on_forward_layer_choice(self, *args, **kwargs)
        if self.return_mask:
            return out, mask
        return out


class InputChoice(Mutable):
    """Chooses among tensors computed elsewhere (skip connections, a cell's inputs).

    ``choose_from`` names where each candidate comes from: the key of a mutable that appears
    earlier in the model (a LayerChoice, an InputChoice, or an enclosing or earlier
    :class:`MutableScope`), or ``InputChoice.NO_KEY`` when there is no such mutable. Mutators may
    use these sources (ENAS does); if you do not care, pass ``n_candidates`` alone.

    Args:
        n_candidates: how many tensors ``forward`` receives.
        choose_from: the source key of each candidate (copied); defaults to ``NO_KEY``s.
        n_chosen: how many a mutator should select (``None``: any number). A hint only.
        reduction: "sum", "mean", "concat" or "none", as in :class:`LayerChoice`.
        return_mask: return ``(output, mask)`` instead of ``output``.
        key: see :class:`Mutable`.
    """

    NO_KEY = ""

    def __init__(
        self,
        n_candidates: int | None = None,
        choose_from: list[str] | None = None,
        n_chosen: int | None = None,
        reduction: str = "sum",
        return_mask: bool = False,
        key: Any = None,
    ) -> None:
        super().__init__(key=key)
        assert n_candidates is not None or choose_from is not None, (
            "At least one of `n_candidates` and `choose_from`must be not None."
        )
        if choose_from is not None and n_candidates is None:
            n_candidates = len(choose_from)
        elif choose_from is None and n_candidates is not None:
            choose_from = [self.NO_KEY] * n_candidates
        assert n_candidates == len(choose_from), (
            "Number of candidates must be equal to the length of `choose_from`."
        )
        assert n_candidates > 0, "Number of candidates must be greater than 0."
        assert n_chosen is None or 0 <= n_chosen <= n_candidates, (
            "Expected selected number must be None or no more than number of candidates."
        )
        self.n_candidates = n_candidates
        self.choose_from = list(choose_from)
        self.n_chosen = n_chosen
        self.reduction = reduction
        self.return_mask = return_mask

    def forward(self, optional_inputs: list[torch.Tensor] | dict[str, torch.Tensor]) -> Any:
        """Select from ``optional_inputs``: a list in ``choose_from`` order, or a dict by key."""
        inputs = optional_inputs
        if isinstance(optional_inputs, dict):
            inputs = [optional_inputs[source] for source in self.choose_from]
        assert isinstance(inputs, list), (
            f"Optional input list must be a list, not a {type(inputs)}."
        )
        # NNI checks the length of what the caller passed, so a dict with extra keys fails.
        assert len(optional_inputs) == self.n_candidates, (
            "Length of the input list must be equal to number of candidates."
        )
        out, mask = self.mutator.on_forward_input_choice(self, inputs)
        if self.return_mask:
            return out, mask
        return out
