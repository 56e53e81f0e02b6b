"""A mixed op that keeps one candidate's activations, not K: candidates recomputed in backward.

``recompute_reduce(candidates, args, kwargs, weights, reduction)`` returns what the fused
reduction of every candidate's output would, ``Σ_i w_i·candidate_i(*args, **kwargs)`` (sum) or
that divided by ``len(candidates)`` (mean), with torch.utils.checkpoint's trade: the forward
runs the candidates without recording their graphs and adds each weighted output into one
buffer as it goes; the backward runs them again one at a time, with grad, takes
``grad w_i = <g, y_i>`` and ``w_i·g`` from the fused backward op, backpropagates ``w_i·g``
through candidate ``i`` for its parameters and the inputs, and frees it before the next.

On the CPU only candidates that own parameters are recomputed (the convolutions, whose
activations are most of a supernet's memory). A parameter-free candidate (pooling, an
identity, dropout alone) runs once, in the forward, with its graph kept, as in the default
mode: it keeps a few output-sized tensors at most, and there a 3×3 max pool's forward costs
about as much as all the convolutions' together and thirty times its own backward, so
recomputing it would buy little memory for much time (``benchmarks/bench_supernet.py``). On
CUDA every candidate is recomputed: memory is what the mode is for there, and a GPU's pooling
kernels are not the CPU's slow loops (a trade not measured yet). ``keep_parameter_free``
chooses either way. A candidate with nothing to backpropagate into (its parameters frozen and
no input requiring grad, as in DARTS' architecture step on the stem's outputs) also runs once:
its graph would hold only its output.

What the recompute preserves:

* random numbers: the global CPU (and the inputs' CUDA) generator state is saved before each
  recomputed candidate runs in the forward and restored before its recompute, so dropout draws
  the same masks, and the candidates draw in the default mode's order; the generators are left
  as they were afterwards;
* buffers: running statistics are restored after each recompute, so batch norm counts a step
  once;
* the weights the forward saw, even under ``torch.func.functional_call`` (DARTS' unrolled step
  evaluates the model on virtual weights): each candidate's parameters are captured in the
  forward and the recompute runs on those.

Candidates whose weight is exactly zero are skipped in both passes (their weight gets a zero
gradient, NNI's rule for a skipped branch); finding them reads the weights on the host once
per call. Gradients reach the inputs (tensors anywhere in ``args``/``kwargs``), the
candidates' parameters and the weights; a tensor a candidate reads from elsewhere (a closure, a
nested choice's weights) gets none. A double backward (``create_graph=True``) raises.
"""

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.func import functional_call
from torch.utils import _pytree

from nasops.ops.functional import weighted_sum

RECOMPUTED_REDUCTIONS = ("sum", "mean")
_ops = torch.ops.nasops


class _Plan:
    """What the backward needs besides the saved tensors (plain Python objects)."""

    __slots__ = (
        "active",
        "candidates",
        "captured",
        "detached",
        "is_tensor",
        "kept",
        "leaves",
        "num_inputs",
        "param_slices",
        "rng_states",
        "scale",
        "spec",
    )


def recompute_reduce(
    candidates: Sequence[nn.Module],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    weights: torch.Tensor | None,
    reduction: str = "sum",
    keep_parameter_free: bool | None = None,
) -> torch.Tensor:
    """``reduction`` of ``[w_i·c(*args, **kwargs) for c in candidates]`` (unweighted when
    ``weights`` is None), recomputing the candidates in backward instead of keeping their
    activations (the module says which run once instead).

    Args:
        candidates: the modules to run, each on the same arguments; non-empty.
        args, kwargs: the call's arguments; tensors anywhere in them get gradients.
        weights: ``None``, or a 1-D floating tensor with one entry per candidate.
        reduction: "sum" or "mean" (divides by ``len(candidates)``, as the fused op does).
        keep_parameter_free: run the parameter-free candidates once with their graph kept
            instead of recomputing them; ``None`` (the mutators' choice): on CPU inputs only.
    """
    if reduction not in RECOMPUTED_REDUCTIONS:
        raise ValueError(
            f"recompute_reduce: reduction {reduction!r} is not recomputed; accepted are "
            f"{RECOMPUTED_REDUCTIONS}"
        )
    if not candidates:
        raise ValueError("recompute_reduce: candidates is empty; give at least one module")
    if weights is not None and (weights.dim() != 1 or len(weights) != len(candidates)):
        raise ValueError(
            f"recompute_reduce: weights must be 1-D with {len(candidates)} entries (one per "
            f"candidate), got shape {tuple(weights.shape)}"
        )
    plan = _Plan()
    plan.candidates = list(candidates)
    plan.scale = 1.0 if reduction == "sum" else 1.0 / len(candidates)
    plan.active = _active(weights, len(candidates))
    plan.leaves, plan.spec = _pytree.tree_flatten((tuple(args), dict(kwargs)))
    plan.is_tensor = [isinstance(leaf, torch.Tensor) for leaf in plan.leaves]
    inputs = [leaf for leaf, tensor in zip(plan.leaves, plan.is_tensor, strict=True) if tensor]
    plan.leaves = [
        None if tensor else leaf for leaf, tensor in zip(plan.leaves, plan.is_tensor, strict=True)
    ]
    plan.num_inputs = len(inputs)
    params = _capture_parameters(plan)
    if keep_parameter_free is None:
        keep_parameter_free = all(x.device.type == "cpu" for x in inputs)
    # Also kept: a candidate with nothing to backpropagate into (frozen, on inputs without
    # grad, as in DARTS' architecture step on the stem's outputs) has a graph of its output only.
    inputs_need_grad = any(x.requires_grad for x in inputs)
    plan.kept = [
        (keep_parameter_free and _parameter_free(plan.candidates[i]))
        or not (inputs_need_grad or plan.param_slices[p].stop > plan.param_slices[p].start)
        for p, i in enumerate(plan.active)
    ]
    return _RecomputedReduce.apply(plan, weights, *inputs, *params)


def _active(weights: torch.Tensor | None, count: int) -> list[int]:
    """Candidates with a non-zero weight (all without weights); the first one when every weight
    is zero, so the result still has the candidates' shape (zeros)."""
    if weights is None:
        return list(range(count))
    active = [i for i, w in enumerate(weights.detach().tolist()) if w != 0]
    return active or [0]


def _parameter_free(module: nn.Module) -> bool:
    return next(module.parameters(), None) is None


def _capture_parameters(plan: _Plan) -> list[torch.Tensor]:
    """Each active candidate's parameters as the forward sees them (the tensors
    ``functional_call`` swapped in, if any), kept in ``plan``; returns those that require grad,
    which become inputs of the autograd function, each candidate's run at ``plan.param_slices``.
    """
    params: list[torch.Tensor] = []
    plan.captured, plan.param_slices = [], []
    for i in plan.active:
        start = len(params)
        # requires_grad is read now: a trainer may freeze weights for one forward only.
        named = [(n, p, p.requires_grad) for n, p in plan.candidates[i].named_parameters()]
        plan.captured.append(named)
        params.extend(p for _, p, grad in named if grad)
        plan.param_slices.append(slice(start, len(params)))
    return params


def _call(plan: _Plan, position: int, inputs: Sequence[torch.Tensor], params: Sequence) -> Any:
    """Run active candidate ``position`` on ``inputs`` and its captured parameters (``params``:
    those requiring grad, as the autograd function holds them), through ``functional_call``
    when they are no longer the module's own."""
    module = plan.candidates[plan.active[position]]
    it = iter(inputs)
    leaves = [
        next(it) if tensor else leaf
        for leaf, tensor in zip(plan.leaves, plan.is_tensor, strict=True)
    ]
    args, kwargs = _pytree.tree_unflatten(leaves, plan.spec)
    grads = iter(params)
    captured = {n: next(grads) if grad else p for n, p, grad in plan.captured[position]}
    own = dict(module.named_parameters())
    if all(own.get(name) is p for name, p in captured.items()):
        return module(*args, **kwargs)
    return functional_call(module, captured, args, kwargs)


def _cuda_devices(tensors: Sequence[torch.Tensor]) -> list[int]:
    return sorted({t.device.index or 0 for t in tensors if t.device.type == "cuda"})


class _RecomputedReduce(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, plan: _Plan, weights: Any, *tensors: torch.Tensor) -> torch.Tensor:
        inputs = tensors[: plan.num_inputs]
        # The kept candidates' graphs and the recompute start from these leaves.
        plan.detached = [x.detach().requires_grad_(x.requires_grad) for x in inputs]
        out, plan.rng_states, kept = _accumulate(plan, weights, tensors[plan.num_inputs :])
        ctx.plan = plan
        ctx.has_weights = weights is not None
        ctx.save_for_backward(*([weights] if weights is not None else []), *tensors, *kept)
        ctx.num_kept = len(kept)
        return out

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple:
        if torch.is_grad_enabled():
            raise RuntimeError(
                "memory='recompute' does not support a double backward (create_graph=True): "
                "its candidates are recomputed without a graph of their gradients; use the "
                "default memory mode for second-order gradients"
            )
        plan: _Plan = ctx.plan
        saved = list(ctx.saved_tensors)
        weights = saved.pop(0) if ctx.has_weights else None
        kept = saved[len(saved) - ctx.num_kept :]
        params = saved[plan.num_inputs : len(saved) - ctx.num_kept]
        weight_grad = ctx.has_weights and ctx.needs_input_grad[1]
        input_grads, param_grads, grad_w = _recompute_backward(
            plan, grad, weights, weight_grad, params, kept
        )
        return (None, grad_w, *input_grads, *param_grads)


def _accumulate(
    plan: _Plan, weights: torch.Tensor | None, params: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, list, list[torch.Tensor]]:
    """The forward: ``out = w_0·y_0``, then ``out += w_i·y_i`` in place. A recomputed candidate
    runs without a graph, after its generator states are saved, and its ``y_i`` is freed
    before the next runs; a kept one runs with grad on ``plan.detached``, and its ``y_i`` (with
    its graph) is returned. Returns the sum, the generator states and the kept outputs."""
    out = None
    devices = _cuda_devices(plan.detached)
    rng_states, kept = [], []
    for position, i in enumerate(plan.active):
        if plan.kept[position]:
            with torch.enable_grad():
                y = _call(plan, position, plan.detached, ())
            kept.append(y)
        else:
            rng_states.append(
                (torch.get_rng_state(), [torch.cuda.get_rng_state(d) for d in devices])
            )
            y = _call(plan, position, plan.detached, params[plan.param_slices[position]])
        w = None if weights is None else weights[i : i + 1] * plan.scale
        if w is None and plan.scale != 1.0:
            w = y.new_full((1,), plan.scale)
        if out is None:
            out = weighted_sum([y.detach()], w)  # fresh: y may be an input (a skip connection)
        else:
            pair = None if w is None else torch.cat([w.new_ones(1), w])
            weighted_sum([out, y.detach()], pair, out=out)
        del y
    return out, rng_states, kept


def _recompute_backward(
    plan: _Plan,
    grad: torch.Tensor,
    weights: torch.Tensor | None,
    weight_grad: bool,
    params: Sequence[torch.Tensor],
    kept: Sequence[torch.Tensor],
) -> tuple[list, list, torch.Tensor | None]:
    """Backpropagate each active candidate's share of ``grad``: a kept one through the graph
    its forward recorded, a recomputed one through a recompute, freed before the next."""
    grads = _Gradients(plan, grad, weights, weight_grad, len(params))
    devices = _cuda_devices(plan.detached)
    kept_outputs, rng_states = iter(kept), iter(plan.rng_states)
    with torch.random.fork_rng(devices=devices):
        for position in range(len(plan.active)):
            own = params[plan.param_slices[position]]
            if plan.kept[position]:
                grads.add(position, next(kept_outputs), own)
                continue
            _set_rng_states(next(rng_states), devices)
            # The buffers are restored only after the candidate's backward, which may read
            # them (batch norm saves its running statistics).
            with _buffers_kept(plan.candidates[plan.active[position]]):
                with torch.enable_grad():
                    y = _call(plan, position, plan.detached, own)
                grads.add(position, y, own)
                del y
    return grads.input_grads, grads.param_grads, grads.weights_grad()


class _Gradients:
    """The backward's running totals: the inputs', the parameters' and the weights'."""

    def __init__(
        self,
        plan: _Plan,
        grad: torch.Tensor,
        weights: torch.Tensor | None,
        weight_grad: bool,
        num_params: int,
    ) -> None:
        self.plan, self.grad, self.weights, self.weight_grad = plan, grad, weights, weight_grad
        self.wanted_inputs = [x for x in plan.detached if x.requires_grad]
        self.input_grads: list[torch.Tensor | None] = [None] * plan.num_inputs
        self.param_grads: list[torch.Tensor | None] = [None] * num_params
        self.per_weight: list[torch.Tensor] = []

    def add(self, position: int, y: torch.Tensor, own: Sequence[torch.Tensor]) -> None:
        """Backpropagate active candidate ``position``'s share of the gradient from its output
        ``y`` into the inputs and its parameters ``own``, and take its weight's gradient."""
        plan, i = self.plan, self.plan.active[position]
        if self.weights is None:
            grad_y = self.grad if plan.scale == 1.0 else self.grad * plan.scale
        else:
            (grad_y,), grad_w = _ops.weighted_sum_backward.default(
                self.grad, [y], self.weights[i : i + 1], plan.scale, True, self.weight_grad
            )
            self.per_weight.append(grad_w)
        targets = [*self.wanted_inputs, *own]
        if y.requires_grad and targets:
            # A kept candidate's graph lives as long as the outer graph (retain_graph=True
            # there backpropagates through it again); a recompute's is freed with ``y``.
            found = torch.autograd.grad(y, targets, grad_y, allow_unused=True, retain_graph=True)
            _add(self.input_grads, plan.detached, found[: len(self.wanted_inputs)])
            start = plan.param_slices[position].start
            self.param_grads[start : start + len(own)] = found[len(self.wanted_inputs) :]

    def weights_grad(self) -> torch.Tensor | None:
        """The weights' gradient: each active candidate's, zero for the skipped ones."""
        if not self.weight_grad:
            return None
        grad_w = torch.zeros_like(self.weights)
        index = torch.tensor(self.plan.active, device=self.weights.device)
        return grad_w.index_copy_(0, index, torch.cat(self.per_weight).to(self.weights.dtype))


def _set_rng_states(states: tuple[torch.Tensor, list[torch.Tensor]], devices: list[int]) -> None:
    cpu_state, cuda_states = states
    torch.set_rng_state(cpu_state)
    for device, state in zip(devices, cuda_states, strict=True):
        torch.cuda.set_rng_state(state, device)


def _add(total: list, detached: Sequence[torch.Tensor], found: Sequence) -> None:
    """Add the gradients ``found`` for the inputs that require grad into ``total``."""
    it = iter(found)
    for j, x in enumerate(detached):
        if not x.requires_grad:
            continue
        g = next(it)
        if g is not None:
            total[j] = g if total[j] is None else total[j] + g


class _buffers_kept:
    """Restore ``module``'s buffers on exit: the recompute must not count a batch twice in the
    running statistics (BatchNorm updates them in place in training mode)."""

    def __init__(self, module: nn.Module) -> None:
        self.buffers = [b for b in module.buffers() if b is not None]

    def __enter__(self) -> None:
        self.saved = [b.clone() for b in self.buffers]

    def __exit__(self, *exc: object) -> None:
        with torch.no_grad():
            for buffer, value in zip(self.buffers, self.saved, strict=True):
                buffer.copy_(value)
