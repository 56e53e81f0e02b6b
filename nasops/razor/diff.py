"""Differentiable module mutables (DARTS, DSNAS, GDAS): outputs weighted by architecture params.

The mutator owns the architecture parameters and binds one to each mutable with
``set_forward_args``; the forward then reduces ``probs(arch_param)``-weighted candidate outputs
through ``weighted_sum``, computing only the candidates whose weight is not exactly zero.
"""

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.distributions import OneHotCategorical

from nasops.ops.recompute import recompute_reduce
from nasops.razor import _reduce
from nasops.razor._reduce import sum_all, sum_weighted
from nasops.razor.base import DumpChosen
from nasops.razor.candidates import build_candidates
from nasops.razor.errors import ValueAssertionError
from nasops.razor.mutable_module import MutableModule

StrOrList = str | list[str]


class DiffMutableModule(MutableModule[StrOrList, StrOrList]):
    """A module mutable whose forward mixes candidates by an architecture parameter.

    ``forward(x, arch_param=None)`` runs the kept candidates once fixed, the unweighted sum of
    all candidates when no arch param is given or bound, and the weighted mix otherwise.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._candidates: nn.ModuleDict
        self._chosen: list[str] | None = None
        self.memory = "default"  # DiffMutableOP: see nasops._memory
        # Held outside the module's parameters: the mutator owns and optimizes it.
        object.__setattr__(self, "_bound_arch_param", None)

    def set_forward_args(self, arch_param: nn.Parameter) -> None:
        """Bind ``arch_param``, so that a plain ``module(x)`` uses it."""
        object.__setattr__(self, "_bound_arch_param", arch_param)

    def forward(self, x: Any, arch_param: nn.Parameter | None = None) -> torch.Tensor:
        if self.is_fixed:
            return self.forward_fixed(x)
        if arch_param is None:
            arch_param = self._bound_arch_param
        if arch_param is None:
            return self.forward_all(x)
        return self.forward_arch_param(x, arch_param)

    def compute_arch_probs(self, arch_param: torch.Tensor) -> torch.Tensor:
        """The candidate weights: ``softmax(arch_param)``."""
        return F.softmax(arch_param, dim=-1)

    @property
    def choices(self) -> list[str]:
        return list(self._candidates.keys())

    def _names(self, argument: str, chosen: StrOrList) -> list[str]:
        names = [chosen] if isinstance(chosen, str) else list(chosen)
        if not all(isinstance(n, str) for n in names):
            raise ValueAssertionError(
                f"{argument} must be a name or a list of names, got {chosen!r}"
            )
        self._check_names(argument, names)
        return names

    def fix_chosen(self, chosen: StrOrList) -> None:
        """Keep only the candidates in ``chosen``; the fixed forward sums them unweighted."""
        self._check_not_fixed("fix_chosen")
        names = self._names("chosen", chosen)
        for name in self.choices:
            if name not in names:
                self._candidates.pop(name)
        self._chosen = names
        self._current_choice = chosen
        self.is_fixed = True

    def dump_chosen(self) -> DumpChosen:
        return DumpChosen(chosen=self._require_choice(), meta={"all_choices": self.choices})

    @abstractmethod
    def sample_choice(self, arch_param: torch.Tensor) -> StrOrList:
        """The choice the arch param currently prefers."""

    @abstractmethod
    def forward_arch_param(self, x: Any, arch_param: torch.Tensor) -> torch.Tensor:
        """The arch-param-weighted forward."""


class DiffMutableOP(DiffMutableModule):
    """Differentiable choice among candidate ops: ``Σ softmax(α)_i · op_i(x)``.

    Args:
        candidates: an ``nn.ModuleDict``, a dict of modules, or a dict of config dicts.
        fix_threshold: in [0, 1]; ``OneHotMutableOP`` fixes itself once the top-1 probability
            leads the top-2 by at least this much.
        module_kwargs, alias, init_cfg: see ``OneShotMutableOP``.
    """

    def __init__(
        self,
        candidates: Mapping[str, Any],
        fix_threshold: float = 1.0,
        module_kwargs: Mapping[str, Any] | None = None,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(module_kwargs=module_kwargs, alias=alias, init_cfg=init_cfg)
        if not 0.0 <= fix_threshold <= 1.0:
            raise ValueError(f"fix_threshold must be in [0, 1], got {fix_threshold!r}")
        self.fix_threshold = fix_threshold
        self._candidates = build_candidates(candidates, self.module_kwargs)

    def _validate_choice(self, choice: StrOrList) -> None:
        self._names("current_choice", choice)

    def forward_arch_param(self, x: Any, arch_param: torch.Tensor) -> torch.Tensor:
        probs = self.compute_arch_probs(arch_param)
        if self.memory == "recompute":  # set by NasMutator(memory=...)
            return recompute_reduce(list(self._candidates.values()), (x,), {}, probs)
        return sum_weighted([lambda op=op: op(x) for op in self._candidates.values()], probs)

    def forward_all(self, x: Any) -> torch.Tensor:
        return sum_all([lambda op=op: op(x) for op in self._candidates.values()])

    def forward_fixed(self, x: Any) -> torch.Tensor:
        return sum_all([lambda op=op: op(x) for op in self._candidates.values()])

    def sample_choice(self, arch_param: torch.Tensor) -> str:
        """The name with the largest logit (the fixed choice once fixed)."""
        if self.is_fixed:
            return self._current_choice
        return self.choices[int(arch_param.argmax())]


class OneHotMutableOP(DiffMutableOP):
    """DSNAS's op: one candidate sampled per forward from ``softmax(α)``, weighted by 1.

    The one-hot sample is kept as ``arch_weights`` (a leaf that requires grad), so the
    algorithm can read ``arch_weights.grad``. Once the top-1 probability leads the top-2 by
    ``fix_threshold`` the op fixes itself to the top-1 candidate.
    """

    def sample_weights(
        self, arch_param: torch.Tensor, probs: torch.Tensor, random_sample: bool = False
    ) -> torch.Tensor:
        """One one-hot draw from ``probs`` (uniform if ``random_sample``)."""
        if random_sample:
            probs = torch.full_like(probs, 1.0 / probs.numel())
        return OneHotCategorical(probs=probs.detach()).sample()

    def forward_arch_param(self, x: Any, arch_param: torch.Tensor) -> torch.Tensor:
        probs = self.compute_arch_probs(arch_param).detach()
        weights = self.sample_weights(arch_param, probs)
        n = probs.numel()
        # One host read: the sampled index, the top-1 index and the top-1/top-2 gap.
        top = probs.topk(min(2, n)).values
        gap = top[0] - top[1] if n > 1 else top[0]
        sampled, best, lead = _reduce.host_list(
            torch.stack([weights.argmax().to(probs.dtype), probs.argmax().to(probs.dtype), gap])
        )
        index = int(sampled)
        if n > 1 and lead >= self.fix_threshold:
            index = int(best)
            self.fix_chosen(self.choices[index])
            self._current_choice = self._chosen[0]
            weights = F.one_hot(torch.tensor(index), n).to(probs)
            op = self._candidates[self._chosen[0]]
        else:
            op = self._candidates[self.choices[index]]
        self.arch_weights = weights.requires_grad_()
        return sum_weighted([lambda: op(x)], self.arch_weights[index : index + 1])


class DiffChoiceRoute(DiffMutableModule):
    """Differentiable choice among input edges (a DARTS node): ``Σ p_i · edge_i(x_i)``.

    The forward takes one input per edge, in the order of ``edges``, also once fixed (so the
    caller's code does not change after fixing). ``fix_chosen`` keeps ``num_chosen`` edges in
    a DARTS export, but any non-empty subset is accepted.

    Args:
        edges: the edge modules by name (``nn.ModuleDict`` or dict of modules).
        num_chosen: how many edges ``sample_choice`` keeps (top-k of the arch param).
        with_arch_param: when False the forward ignores the arch param and sums all edges.
        alias, init_cfg: see ``BaseMutable``.
    """

    def __init__(
        self,
        edges: Mapping[str, nn.Module],
        num_chosen: int = 2,
        with_arch_param: bool = False,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(alias=alias, init_cfg=init_cfg)
        if not isinstance(edges, Mapping | nn.ModuleDict) or not all(
            isinstance(e, nn.Module) for e in edges.values()
        ):
            raise TypeError(f"edges must be an nn.ModuleDict or a dict of modules, got {edges!r}")
        self._candidates = build_candidates(edges)
        if not isinstance(num_chosen, int) or not 1 <= num_chosen <= len(self._candidates):
            raise ValueError(
                f"num_chosen must be an int in [1, {len(self._candidates)}], got {num_chosen!r}"
            )
        self.num_chosen = num_chosen
        self.with_arch_param = with_arch_param
        self._edge_names = list(self._candidates.keys())

    def _validate_choice(self, choice: StrOrList) -> None:
        if isinstance(choice, str):
            raise ValueAssertionError(
                f"a route's current_choice is a list of edge names, got {choice!r}"
            )
        self._names("current_choice", choice)

    def fix_chosen(self, chosen: list[str]) -> None:
        if isinstance(chosen, str):
            raise ValueAssertionError(f"a route's chosen is a list of edge names, got {chosen!r}")
        super().fix_chosen(chosen)

    def _calls(self, x: Sequence[Any]) -> list:
        if not isinstance(x, list | tuple) or len(x) != len(self._edge_names):
            got = len(x) if isinstance(x, list | tuple) else type(x).__name__
            raise ValueAssertionError(
                f"{type(self).__name__} takes a list with one input per edge "
                f"({len(self._edge_names)}: {self._edge_names}), got {got}"
            )
        return [
            (lambda e=self._candidates[name], xi=xi: e(xi))
            for name, xi in zip(self._edge_names, x, strict=True)
            if name in self._candidates
        ]

    def forward(self, x: Sequence[Any], arch_param: nn.Parameter | None = None) -> torch.Tensor:
        if self.is_fixed:
            return self.forward_fixed(x)
        if arch_param is None:
            arch_param = self._bound_arch_param
        if arch_param is not None and self.with_arch_param:
            return self.forward_arch_param(x, arch_param)
        return self.forward_all(x)

    def forward_fixed(self, x: Sequence[Any]) -> torch.Tensor:
        return sum_all(self._calls(x))

    def forward_all(self, x: Sequence[Any]) -> torch.Tensor:
        return sum_all(self._calls(x))

    def forward_arch_param(self, x: Sequence[Any], arch_param: torch.Tensor) -> torch.Tensor:
        return sum_weighted(self._calls(x), self.compute_arch_probs(arch_param))

    def sample_choice(self, arch_param: torch.Tensor) -> list[str]:
        """The ``num_chosen`` edges with the largest logits, best first (the kept edges once
        fixed: the arch param spans the original edges, which fixing dropped).
        """
        if self.is_fixed:
            return list(self._chosen)
        k = min(self.num_chosen, len(self.choices))
        return [self.choices[i] for i in _reduce.host_list(arch_param.topk(k).indices)]


class GumbelChoiceRoute(DiffChoiceRoute):
    """``DiffChoiceRoute`` weighted by a Gumbel-softmax sample (GDAS).

    With ``hard=True`` the weights are a straight-through one-hot: only the sampled edge is
    computed, while the gradient still reaches every logit through the soft sample.

    Args:
        edges, num_chosen, with_arch_param, alias, init_cfg: see ``DiffChoiceRoute``.
        tau: the Gumbel-softmax temperature (> 0).
        hard: one-hot (straight-through) weights instead of soft ones.
    """

    def __init__(
        self,
        edges: Mapping[str, nn.Module],
        tau: float = 1.0,
        hard: bool = True,
        with_arch_param: bool = False,
        num_chosen: int = 2,
        alias: str | None = None,
        init_cfg: dict | None = None,
    ) -> None:
        super().__init__(
            edges,
            num_chosen=num_chosen,
            with_arch_param=with_arch_param,
            alias=alias,
            init_cfg=init_cfg,
        )
        self.set_temperature(tau)
        self.hard = hard

    def set_temperature(self, tau: float) -> None:
        """Set the Gumbel-softmax temperature (annealed by GDAS)."""
        if not tau > 0:
            raise ValueError(f"tau must be > 0, got {tau!r}")
        self.tau = tau

    def compute_arch_probs(self, arch_param: torch.Tensor) -> torch.Tensor:
        return F.gumbel_softmax(arch_param, tau=self.tau, hard=self.hard, dim=-1)
