"""``Mutator``: a mutator driven by a decision dict (key → mask), as in NNI v1.

Subclasses implement ``sample_search`` (decisions while searching) and ``sample_final`` (the
architecture to export). ``reset()`` samples and turns every mask into a
:class:`~nasops._decision.Decision` at once, so the mutables' forward passes only index Python
lists and reduce through the fused ops: a mutator written against NNI's API, returning mask
tensors, gets this without change.
"""

import logging
from collections import defaultdict
from typing import Any

import numpy as np
import torch
from torch import nn

from nasops._arch_format import to_human_readable
from nasops._decision import Decision, compile_decision
from nasops._memory import check_memory, warn_default_once
from nasops._reduction import reduce_all, reduce_selected
from nasops.base_mutator import BaseMutator
from nasops.distributed.rng import architecture_rng
from nasops.mutables import InputChoice, LayerChoice, Mutable
from nasops.ops.recompute import RECOMPUTED_REDUCTIONS, recompute_reduce

_logger = logging.getLogger("nasops.mutator")


class Mutator(BaseMutator):
    """A mutator whose decisions are a dict from mutable key to mask.

    A mask has one entry per candidate: a bool selects, a float selects when non-zero and
    weights the candidate's output (gradients reach the mask). See
    :data:`nasops._decision.ACCEPTED_MASKS` for the accepted forms.

    :attr:`memory` chooses how a LayerChoice mixing several candidates keeps them for backward
    (see :mod:`nasops._memory`).
    """

    def __init__(self, model: nn.Module) -> None:
        super().__init__(model)
        self._cache: dict[str, Any] = {}
        self._connect_all = False
        self._decisions: dict[str, Decision] = {}
        self._memory = "default"
        self._warned_default: set[str] = set()

    @property
    def memory(self) -> str:
        """``"default"`` or ``"recompute"``: a LayerChoice whose decision weights its
        candidates (a floating mask) or selects several, with reduction "sum" or "mean", then
        keeps no candidate's activations for backward and recomputes them there
        (:func:`~nasops.ops.recompute.recompute_reduce`). Other LayerChoices (reduction
        "concat" or "none": warned once each; one candidate under a bool mask) and every
        InputChoice run as in the default mode, as does every call without grad."""
        return self._memory

    @memory.setter
    def memory(self, memory: str) -> None:
        self._memory = check_memory(memory)

    def sample_search(self) -> dict[str, Any]:
        """Decide every LayerChoice and InputChoice for the next search step; key → mask."""
        raise NotImplementedError

    def sample_final(self) -> dict[str, Any]:
        """Decide the final architecture (read by ``export()``); key → mask."""
        raise NotImplementedError

    def reset(self) -> None:
        """Sample (``sample_search``) and prepare the decisions the next forward passes use.

        Under ``torch.distributed`` every rank samples rank 0's architecture (see
        :mod:`nasops.distributed.rng`)."""
        with architecture_rng(self):
            self._cache = self.sample_search()
        self._decisions = {}
        for key, mask in self._cache.items():
            try:
                self._decisions[key] = self._compile(key, mask)
            except ValueError:
                # NNI reports a bad mask when its mutable runs (and a decision for an unused key
                # is never looked at): leave it to forward, which raises the same error.
                continue

    def _compile(self, key: str, mask: Any) -> Decision:
        """Turn one sampled mask into its :class:`Decision` (once per ``reset()``).

        The default reads the mask on the host to find the selected candidates. A mutator that
        knows them without looking (every candidate, for DARTS) overrides this to return
        :func:`nasops._decision.dense_decision`, so no step waits for the device.
        """
        return compile_decision(mask, key)

    def export(self) -> dict[str, Any]:
        """Call ``sample_final()`` (again: a fresh sample for random mutators, as in NNI) and
        convert each decision to its human-readable form, in search-space order."""
        with architecture_rng(self):
            sampled = dict(self.sample_final())
        result = {}
        for mutable in self.mutables:
            if isinstance(mutable, (LayerChoice, InputChoice)):
                result[mutable.key] = to_human_readable(mutable, sampled.pop(mutable.key))
        if sampled:
            raise ValueError(f"Unexpected keys returned from 'sample_final()': {list(sampled)}")
        return result

    def status(self) -> dict[str, Any]:
        """The current decisions with tensors and arrays converted to lists."""
        data = {}
        for key, value in self._cache.items():
            if torch.is_tensor(value):
                value = value.detach().cpu().tolist()
            if isinstance(value, np.ndarray):
                value = value.astype(np.float32).tolist()
            data[key] = value
        return data

    def graph(self, inputs: Any) -> dict[str, Any]:
        """The supernet as a TensorBoard GraphDef dict, every candidate connected.

        Adds ``result["mutable"][key]``: for each mutable with that key, its module path as
        ``[{"type": ..., "name": ...}, ...]`` from the model down. Needs ``tensorboard``.
        """
        try:
            from google.protobuf import json_format
            from tensorboard.compat.proto.graph_pb2 import GraphDef
            from tensorboard.compat.proto.versions_pb2 import VersionDef
            from torch.utils.tensorboard._pytorch_graph import parse
        except ImportError as error:
            raise ImportError(
                "Mutator.graph() needs tensorboard (pip install tensorboard)"
            ) from error
        self._connect_all = True
        was_training = self.model.training
        try:
            self.model.eval()
            # check_trace=False: the tracer's re-trace check compares TorchScript module types,
            # and the mutables' mutator back-reference makes them differ between two traces
            # (torch 2.x); the graph itself is the same.
            trace = torch.jit.trace(self.model, inputs, check_trace=False)
            torch._C._jit_pass_inline(trace.graph)
            nodes = parse(trace.graph, trace, inputs)
        finally:
            self._connect_all = False
            self.model.train(was_training)
        graph_def = GraphDef(node=nodes, versions=VersionDef(producer=22))
        result = json_format.MessageToDict(graph_def)
        result["mutable"] = self.mutable_paths()
        return result

    def mutable_paths(self) -> dict[str, list[list[dict[str, str]]]]:
        """For each key, the module path of every mutable with that key (``graph()``'s map)."""
        paths: dict[str, list] = defaultdict(list)
        for mutable in self.undedup_mutables:
            module: nn.Module = self.model
            path = [{"type": type(module).__name__, "name": ""}]
            for name in mutable.name.split("."):
                module = getattr(module, name)
                path.append({"type": type(module).__name__, "name": name})
            paths[mutable.key].append(path)
        return paths

    def on_forward_layer_choice(
        self, mutable: LayerChoice, *args: Any, **kwargs: Any
    ) -> tuple[Any, torch.Tensor]:
        """Run only the candidates the decision selects and reduce their outputs."""
        if self._connect_all:
            outputs = [op(*args, **kwargs) for op in mutable]
            return reduce_all(outputs, mutable.reduction), torch.ones(len(mutable)).bool()
        decision = self._decision_for(mutable, len(mutable))
        modules, names = mutable._modules, mutable.names
        if self._memory == "recompute" and self._recomputes(mutable, decision):
            candidates = [modules[names[i]] for i in decision.indices]
            weights = decision.weights
            if weights is not None:
                weights = decision.weights_on(_first_tensor_device(args, kwargs, weights))
            out = recompute_reduce(candidates, args, kwargs, weights, mutable.reduction)
            return out, decision.mask
        outputs = [modules[names[i]](*args, **kwargs) for i in decision.indices]
        return self._reduce(outputs, decision, mutable.reduction), decision.mask

    def on_forward_input_choice(
        self, mutable: InputChoice, tensor_list: list[torch.Tensor]
    ) -> tuple[Any, torch.Tensor]:
        """Pick the selected tensors and reduce them."""
        if self._connect_all:
            return (
                reduce_all(tensor_list, mutable.reduction),
                torch.ones(mutable.n_candidates).bool(),
            )
        decision = self._decision_for(mutable, mutable.n_candidates)
        outputs = [tensor_list[i] for i in decision.indices]
        return self._reduce(outputs, decision, mutable.reduction), decision.mask

    def _recomputes(self, mutable: LayerChoice, decision: Decision) -> bool:
        if not torch.is_grad_enabled():
            return False  # nothing is kept for backward anyway
        if not decision.indices or (decision.weights is None and len(decision.indices) == 1):
            return False  # nothing is mixed: the default mode keeps what a plain module would
        if mutable.reduction in RECOMPUTED_REDUCTIONS:
            return True
        warn_default_once(self._warned_default, mutable.key, mutable.reduction)
        return False

    def _decision_for(self, mutable: Mutable, size: int) -> Decision:
        mask = self._get_decision(mutable)
        decision = self._decisions.get(mutable.key)
        # Under torch.compile the decisions reset() prepared are used as they are: the check
        # that the cache was not changed since reads tensor versions, which do not trace.
        stale = decision is None or (
            not torch.compiler.is_compiling() and not decision.describes(mask)
        )
        if stale:
            # The cache was set or changed without reset() (allowed in NNI): prepare it now.
            decision = self._decisions[mutable.key] = self._compile(mutable.key, mask)
        if decision.length != size:
            raise AssertionError(f"Invalid mask, expected {mask} to be of length {size}.")
        return decision

    @staticmethod
    def _reduce(outputs: list[torch.Tensor], decision: Decision, reduction: str) -> Any:
        weights = decision.weights
        if weights is not None and outputs:
            weights = decision.weights_on(outputs[0].device)
        return reduce_selected(outputs, weights, reduction)

    def _get_decision(self, mutable: Mutable) -> Any:
        """The mask cached for ``mutable.key`` (shared by every mutable with that key)."""
        try:
            return self._cache[mutable.key]
        except KeyError:
            raise ValueError(f'"{mutable.key}" not found in decision cache.') from None

    def _select_with_mask(
        self, map_fn: Any, candidates: list[tuple], mask: Any
    ) -> tuple[list[torch.Tensor], torch.Tensor]:
        """NNI's helper: ``map_fn(*candidate)`` for each selected candidate, times its weight
        for a floating mask; returns the outputs and the mask as a tensor."""
        decision = compile_decision(mask)
        outputs = [map_fn(*candidates[i]) for i in decision.indices]
        if decision.weights is not None:
            outputs = reduce_selected(
                outputs, decision.weights_on(outputs[0].device) if outputs else None, "none"
            )
        return outputs, decision.mask

    def _tensor_reduction(self, reduction_type: str, tensor_list: list[torch.Tensor]) -> Any:
        """NNI's helper: reduce already-selected (and already-weighted) tensors."""
        return reduce_selected(tensor_list, None, reduction_type)

    def _all_connect_tensor_reduction(
        self, reduction_type: str, tensor_list: list[torch.Tensor]
    ) -> Any:
        """NNI's helper for connect-all mode (``graph()``); "mean" averages (fix 4)."""
        return reduce_all(tensor_list, reduction_type)

    def _convert_mutable_decision_to_human_readable(
        self, mutable: LayerChoice | InputChoice, sampled: Any
    ) -> Any:
        """NNI's helper: one ``sample_final()`` value as ``export()`` writes it."""
        return to_human_readable(mutable, sampled)


def _first_tensor_device(args: tuple, kwargs: dict, fallback: torch.Tensor) -> torch.device:
    """Where the call's first tensor argument lives (the candidates' outputs will), else where
    ``fallback`` is."""
    for value in (*args, *kwargs.values()):
        if isinstance(value, torch.Tensor):
            return value.device
    return fallback.device
