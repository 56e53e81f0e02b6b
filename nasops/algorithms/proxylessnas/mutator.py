"""``ProxylessNasMutator``: ProxylessNAS' binarized paths, one ``MixedOp`` per LayerChoice.

ProxylessNAS (Cai et al., ICLR 2019) keeps logits ``alpha`` per LayerChoice and a one-hot
*binary gate* vector drawn from ``softmax(alpha)``: one candidate runs, and the gates' gradients
``<grad_out, out_k>`` give ``alpha`` its gradient. ``'full_v2'`` runs only the active candidate
forward and computes every candidate's gate gradient in the backward.
"""

from collections.abc import Callable, Iterator
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from nasops.base_mutator import BaseMutator
from nasops.distributed.rng import sampled_alike
from nasops.mutables import LayerChoice, Mutable
from nasops.ops import weighted_sum

FORWARD_MODES = (None, "full", "two", "full_v2")


def inner_product(grad: torch.Tensor, output: torch.Tensor) -> torch.Tensor:
    """``<grad, output>`` as a 1-element float32 tensor (float64 for float64), in one fused pass:
    the weight gradient of ``nasops::weighted_sum([output], w)``."""
    dtype = torch.float64 if output.dtype == torch.float64 else torch.float32
    weights = torch.ones(1, dtype=dtype, device=output.device)
    _, grad_w = torch.ops.nasops.weighted_sum_backward.default(
        grad, [output], weights, 1.0, False, True
    )
    return grad_w


def is_zero_layer(candidate: nn.Module) -> bool:
    """The candidate's ``is_zero_layer()`` (ProxylessNAS' "skip this block"); a candidate
    without the method is not a zero layer (NNI required every candidate to define it)."""
    check = getattr(candidate, "is_zero_layer", None)
    return bool(check()) if callable(check) else False


class ArchGradientFunction(torch.autograd.Function):
    """Runs ``run_func`` (the active candidate) on ``x``; the backward also returns the gates'
    gradient from ``backward_func(x, output, grad_output)``.

    The candidate runs on a detached copy of ``x`` with its own graph; the backward replays that
    graph (so ``x`` and the candidate's weights get the gradients they get in mode None; NNI
    gave the weights none and failed when ``x`` needed no gradient) and then asks
    ``backward_func`` for the gates, which never enter the forward.
    """

    @staticmethod
    def forward(
        ctx: Any,
        x: torch.Tensor,
        binary_gates: torch.Tensor,
        run_func: Callable[[torch.Tensor], torch.Tensor],
        backward_func: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
    ) -> torch.Tensor:
        detached = x.detach().requires_grad_(x.requires_grad)
        with torch.enable_grad():
            output = run_func(detached)
        ctx.detached, ctx.output, ctx.backward_func = detached, output, backward_func
        return output.detach()

    @staticmethod
    def backward(ctx: Any, grad_output: torch.Tensor) -> tuple:
        detached, output = ctx.detached, ctx.output
        if output.requires_grad:
            torch.autograd.backward(output, grad_output)
        gate_grads = None
        if ctx.needs_input_grad[1]:
            gate_grads = ctx.backward_func(detached.detach(), output.detach(), grad_output)
        return detached.grad, gate_grads, None, None


class MixedOp(nn.Module):
    """The ProxylessNAS state of one LayerChoice, attached as ``registered_module``.

    Attributes:
        ap_path_alpha: the architecture logits, one per candidate (a parameter that requires
            grad only between ``to_requires_grad()`` and ``to_disable_grad()``).
        ap_path_wb: the binary gates: 1 at the active candidate, 0 elsewhere.
        active_index: ``[i]``, the candidate that runs.
        inactive_index: the other candidates whose gate gets a gradient in 'full', 'two' and
            'full_v2' (all the others; in 'two' the second candidate drawn).
        forward_mode: None (the active candidate alone), 'full' (every candidate, summed by
            the gates through ``nasops::weighted_sum``), 'two' (the two drawn ones, likewise)
            or 'full_v2' (the active one; the others run in the backward for their gates). The
            mutator sets it for all its MixedOps (in NNI a class attribute shared process-wide).

    Both parameters live in the model's ``state_dict`` as
    ``<layer choice>.registered_module.ap_path_alpha`` / ``ap_path_wb``; they start at zero
    (the trainer initialises ``alpha``; NNI left them uninitialised).
    """

    forward_mode: str | None = None

    def __init__(self, mutable: LayerChoice) -> None:
        super().__init__()
        self.n_choices = len(mutable)
        device = next(mutable.parameters(), torch.empty(0)).device
        self.ap_path_alpha = nn.Parameter(torch.zeros(self.n_choices, device=device), False)
        self.ap_path_wb = nn.Parameter(torch.zeros(self.n_choices, device=device), False)
        self.active_index = [0]
        self.inactive_index: list[int] = []
        self._alpha_before_step: tuple[torch.Tensor, torch.Tensor] | None = None

    def get_ap_path_alpha(self) -> nn.Parameter:
        return self.ap_path_alpha

    def to_requires_grad(self) -> None:
        self.ap_path_alpha.requires_grad_(True)
        self.ap_path_wb.requires_grad_(True)

    def to_disable_grad(self) -> None:
        self.ap_path_alpha.requires_grad_(False)
        self.ap_path_wb.requires_grad_(False)

    @property
    def probs_over_ops(self) -> torch.Tensor:
        """``softmax(alpha)``."""
        return F.softmax(self.ap_path_alpha, dim=0)

    @property
    def chosen_index(self) -> tuple[int, float]:
        """The most probable candidate and its probability (read on the host)."""
        probs = self.probs_over_ops.detach().cpu()
        index = int(probs.argmax())
        return index, float(probs[index])

    @property
    def active_op_index(self) -> int:
        return self.active_index[0]

    def active_op(self, mutable: LayerChoice) -> nn.Module:
        return mutable[self.active_index[0]]

    def forward(self, mutable: LayerChoice, *args: Any, **kwargs: Any) -> Any:
        """Run ``mutable`` in :attr:`forward_mode`; see the class docstring."""
        mode = self.forward_mode
        if mode in ("full", "two"):
            return self._gated_sum(mutable, args, kwargs)
        if mode == "full_v2" and torch.is_grad_enabled() and self.ap_path_wb.requires_grad:
            if len(args) != 1 or not torch.is_tensor(args[0]):
                raise TypeError(
                    f"ProxylessNAS binary mode 'full_v2' needs LayerChoice '{mutable.key}' "
                    f"called with one tensor, got {len(args)} positional argument(s)"
                )
            return ArchGradientFunction.apply(
                args[0],
                self.ap_path_wb,
                lambda x: self.active_op(mutable)(x, **kwargs),
                lambda x, out, grad: self._gate_gradients(mutable, x, out, grad, kwargs),
            )
        return self.active_op(mutable)(*args, **kwargs)

    def _gated_sum(self, mutable: LayerChoice, args: tuple, kwargs: dict) -> torch.Tensor:
        """``Σ gate_k·out_k`` over the involved candidates; only the active one carries the
        input's and the weights' gradient, every involved gate gets ``<grad, out_k>``."""
        involved = sorted(self.active_index + self.inactive_index)
        outputs = []
        for i in involved:
            out = mutable[i](*args, **kwargs)
            outputs.append(out if i in self.active_index else out.detach())
        gates = self.ap_path_wb
        if involved != list(range(self.n_choices)):
            gates = torch.stack([self.ap_path_wb[i] for i in involved])
        return weighted_sum(outputs, gates)

    def _gate_gradients(
        self,
        mutable: LayerChoice,
        x: torch.Tensor,
        active_output: torch.Tensor,
        grad_output: torch.Tensor,
        kwargs: dict,
    ) -> torch.Tensor:
        """``<grad_output, out_k>`` for each involved candidate k (0 for the others); the
        inactive ones run here, without a graph, one at a time."""
        grads = torch.zeros_like(self.ap_path_wb)
        involved = set(self.active_index + self.inactive_index)
        with torch.no_grad():
            for k in sorted(involved):
                out = active_output if k == self.active_index[0] else mutable[k](x, **kwargs)
                grads[k : k + 1] = inner_product(grad_output, out)
        return grads

    def set_chosen_op_active(self) -> None:
        """Make the most probable candidate the active one (for validation)."""
        chosen, _ = self.chosen_index
        self.active_index = [chosen]
        self.inactive_index = [i for i in range(self.n_choices) if i != chosen]

    def binarize(self, mutable: LayerChoice) -> None:
        """Draw the active candidate (two in 'two' mode) from ``softmax(alpha)``."""
        ((active, others),) = draw_gates([self.ap_path_alpha], self.forward_mode == "two")
        self.apply_sample(mutable, active, others)

    def apply_sample(self, mutable: LayerChoice, active: int, others: list[int]) -> None:
        """Make ``active`` the running candidate and ``others`` the inactive ones; set the
        gates one-hot and drop the candidates' gradients, so weight decay and momentum skip
        candidates that do not run (ProxylessNAS' guard against over-regularising them)."""
        self.active_index = [active]
        self.inactive_index = list(others)
        with torch.no_grad():
            self.ap_path_wb.zero_()
            self.ap_path_wb[active] = 1.0
        for candidate in mutable:
            if candidate is not None:
                for param in candidate.parameters():
                    param.grad = None

    def set_arch_param_grad(self, mutable: LayerChoice) -> None:
        """Add ``alpha.grad[i] += Σ_j gate_grad[j]·p_j·(δ_ij − p_i)`` over the candidates (the
        two drawn ones in 'two' mode, with ``p`` the softmax over those two).

        With a zero layer active, ``alpha.grad`` is set to None (no step), as in NNI.
        """
        self._alpha_before_step = None
        if is_zero_layer(self.active_op(mutable)):
            self.ap_path_alpha.grad = None
            return
        gate_grads = self.ap_path_wb.grad
        if gate_grads is None:
            raise RuntimeError(
                f"ProxylessNAS: the binary gates of LayerChoice '{mutable.key}' have no "
                f"gradient (forward mode {self.forward_mode!r}); run forward and backward in "
                "mode 'full', 'two' or 'full_v2' after arch_requires_grad() first"
            )
        alpha = self.ap_path_alpha.detach()
        if self.forward_mode == "two":
            index = torch.tensor(self.active_index + self.inactive_index, device=alpha.device)
            probs, grads = F.softmax(alpha[index], dim=0), gate_grads[index]
            delta = torch.zeros_like(alpha).index_add_(0, index, _softmax_grad(probs, grads))
            self._alpha_before_step = (index, alpha[index].clone())
        else:
            delta = _softmax_grad(F.softmax(alpha, dim=0), gate_grads)
        if self.ap_path_alpha.grad is None:
            self.ap_path_alpha.grad = delta
        else:
            self.ap_path_alpha.grad += delta

    def rescale_updated_arch_param(self) -> None:
        """After a 'two' mode step, shift the two drawn logits so their log-sum-exp is what it
        was before the step: the candidates not drawn keep their probability."""
        if self._alpha_before_step is None:
            return
        index, old = self._alpha_before_step
        with torch.no_grad():
            new = self.ap_path_alpha[index]
            self.ap_path_alpha[index] = new - (new.logsumexp(0) - old.logsumexp(0))
        self._alpha_before_step = None


def _softmax_grad(probs: torch.Tensor, grads: torch.Tensor) -> torch.Tensor:
    """``Σ_j g_j·p_j·(δ_ij − p_i) = p_i·(g_i − Σ_j g_j·p_j)``: the chain rule through softmax."""
    return probs * (grads - (grads * probs).sum())


def draw_gates(alphas: list[torch.Tensor], two: bool) -> list[tuple[int, list[int]]]:
    """For each logit vector, ``(active, others)`` drawn from its softmax, in one host read.

    One draw: ``others`` are all the other candidates. ``two``: a pair is drawn without
    replacement, the active one is drawn from the softmax over the pair, ``others`` is the
    other one of the pair.
    """
    width = max(len(alpha) for alpha in alphas)
    logits = torch.stack(
        [F.pad(alpha.detach(), (0, width - len(alpha)), value=-torch.inf) for alpha in alphas]
    )
    probs = F.softmax(logits, dim=-1)
    if not two:
        picked = torch.multinomial(probs, 1).view(-1).tolist()
        lengths = [len(alpha) for alpha in alphas]
        return [(a, [i for i in range(n) if i != a]) for a, n in zip(picked, lengths, strict=True)]
    pair = torch.multinomial(probs, 2, replacement=False)
    first = torch.multinomial(F.softmax(logits.gather(1, pair), dim=-1), 1)
    ordered = torch.cat([pair.gather(1, first), pair.gather(1, 1 - first)], dim=1).tolist()
    return [(active, [other]) for active, other in ordered]


class ProxylessNasMutator(BaseMutator):
    """Attaches a :class:`MixedOp` to every LayerChoice and drives them for the trainer.

    Every LayerChoice gets its own ``MixedOp``, even LayerChoices that share a key (NNI walks
    the mutables undeduplicated). The MixedOp is a submodule of its LayerChoice, so the
    architecture parameters are in the model's ``parameters()`` and ``state_dict`` and move
    with it (to a device, into DataParallel replicas).

    With ``return_mask=True`` a LayerChoice returns ``(output, active index)``: the "mask" is
    the int index of the running candidate, as in NNI (not a mask tensor).

    Only LayerChoices are supported: an InputChoice or a MutableScope in the model raises a
    ``TypeError`` naming it (NNI failed with "object of type 'InputChoice' has no len()").
    There is no ``reset()`` (call :meth:`reset_binary_gates`), ``export()`` raises
    ``NotImplementedError`` (the trainer writes :meth:`sample_final`), as in NNI.

    Args:
        model: the network; its mutables must all be LayerChoices.
    """

    def __init__(self, model: nn.Module) -> None:
        _reject_unsupported(model)
        super().__init__(model)
        self._unused_modules: list[dict[int, nn.Module]] | None = None
        self._forward_mode: str | None = None
        self.mutable_list: list[LayerChoice] = []
        for mutable in self.undedup_mutables:
            self.mutable_list.append(mutable)
            mutable.registered_module = MixedOp(mutable)

    def on_forward_layer_choice(
        self, mutable: LayerChoice, *args: Any, **kwargs: Any
    ) -> tuple[Any, int]:
        """The LayerChoice's output in the current forward mode, and the active index."""
        index = mutable.registered_module.active_op_index
        return mutable.registered_module(mutable, *args, **kwargs), index

    def change_forward_mode(self, mode: str | None) -> None:
        """Set the forward mode of every MixedOp: None, 'full', 'two' or 'full_v2'."""
        if mode not in FORWARD_MODES:
            raise ValueError(
                f"ProxylessNAS forward mode must be one of {FORWARD_MODES}, got {mode!r}"
            )
        if mode == "two":
            for mutable in self.mutable_list:
                if len(mutable) < 2:
                    raise ValueError(
                        f"ProxylessNAS mode 'two' draws two candidates per LayerChoice, but "
                        f"'{mutable.key}' has {len(mutable)}"
                    )
        self._forward_mode = mode
        for mutable in self.mutable_list:
            mutable.registered_module.forward_mode = mode

    def get_forward_mode(self) -> str | None:
        return self._forward_mode

    @sampled_alike  # the same gates on every rank under torch.distributed
    def reset_binary_gates(self) -> None:
        """Draw the active candidate(s) of every LayerChoice (one host read for all)."""
        if not self.mutable_list:
            return
        alphas = [m.registered_module.ap_path_alpha for m in self.mutable_list]
        draws = draw_gates(alphas, self._forward_mode == "two")
        for mutable, (active, others) in zip(self.mutable_list, draws, strict=True):
            mutable.registered_module.apply_sample(mutable, active, others)

    def set_chosen_op_active(self) -> None:
        """Make each LayerChoice run its most probable candidate (for validation)."""
        for mutable in self.mutable_list:
            mutable.registered_module.set_chosen_op_active()

    def num_arch_params(self) -> int:
        """The number of LayerChoices (each has one logit vector)."""
        return len(self.mutable_list)

    def set_arch_param_grad(self) -> None:
        """Turn the gates' gradients into the logits' (see :meth:`MixedOp.set_arch_param_grad`)."""
        for mutable in self.mutable_list:
            mutable.registered_module.set_arch_param_grad(mutable)

    def get_architecture_parameters(self) -> Iterator[nn.Parameter]:
        """Each LayerChoice's ``ap_path_alpha``."""
        for mutable in self.mutable_list:
            yield mutable.registered_module.get_ap_path_alpha()

    def rescale_updated_arch_param(self) -> None:
        """After a 'two' mode step, keep the undrawn candidates' probabilities."""
        for mutable in self.mutable_list:
            mutable.registered_module.rescale_updated_arch_param()

    def unused_modules_off(self) -> None:
        """Detach the candidates this step does not involve (kept for
        :meth:`unused_modules_back`), so DataParallel replicas leave them out."""
        gated = self._forward_mode in ("full", "two", "full_v2")
        self._unused_modules = []
        for mutable in self.mutable_list:
            mixed_op = mutable.registered_module
            involved = set(mixed_op.active_index)
            if gated:
                involved.update(mixed_op.inactive_index)
            unused = {i: mutable[i] for i in range(mixed_op.n_choices) if i not in involved}
            for i in unused:
                mutable[i] = None
            self._unused_modules.append(unused)

    def unused_modules_back(self) -> None:
        """Put back the candidates :meth:`unused_modules_off` detached."""
        if self._unused_modules is None:
            return
        for mutable, unused in zip(self.mutable_list, self._unused_modules, strict=True):
            for i, module in unused.items():
                mutable[i] = module
        self._unused_modules = None

    def arch_requires_grad(self) -> None:
        for mutable in self.mutable_list:
            mutable.registered_module.to_requires_grad()

    def arch_disable_grad(self) -> None:
        for mutable in self.mutable_list:
            mutable.registered_module.to_disable_grad()

    def sample_final(self) -> dict[str, torch.Tensor]:
        """key → one-hot bool CPU tensor of the most probable candidate (for a shared key, the
        last LayerChoice with that key decides, as in NNI)."""
        result = {}
        for mutable in self.mutable_list:
            index = mutable.registered_module.probs_over_ops.detach().argmax()
            result[mutable.key] = F.one_hot(index, len(mutable)).bool().cpu()
        return result


def _reject_unsupported(model: nn.Module) -> None:
    for name, module in model.named_modules():
        if isinstance(module, Mutable) and not isinstance(module, LayerChoice):
            where = f"at '{name}'" if name else "(the model itself)"
            raise TypeError(
                f"ProxylessNasMutator supports LayerChoice only, but the model has "
                f"{type(module).__name__} '{module.key}' {where}; ProxylessNAS draws one "
                "candidate per LayerChoice and has no rule for InputChoice or MutableScope"
            )
