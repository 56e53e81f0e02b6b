"""``DartsTrainer``: alternate an architecture step (on held-out data) and a weight step."""

import contextlib
from collections.abc import Iterator
from typing import Any

import torch
from torch import nn
from torch.func import functional_call

from nasops._memory import check_memory
from nasops.algorithms.base import OneShotTrainer
from nasops.algorithms.compiled import Compile, check_compile, compiled_forward
from nasops.algorithms.darts.mutator import DartsMutator
from nasops.algorithms.darts.unrolled import (
    Weights,
    grads_or_zeros,
    hessian_vector_product,
    virtual_step,
)


class DartsTrainer(OneShotTrainer):
    """DARTS search (NNI's ``DartsTrainer``).

    ``dataset_train`` is split in halves: one trains the weights, the other the architecture;
    ``dataset_valid`` is the test set of each epoch's validation. Each step first moves the
    architecture parameters (Adam, ``arc_learning_rate``, betas (0.5, 0.999), weight decay
    1e-3) down the validation loss, then the weights down the training loss (gradient norm
    clipped to 5).

    Args:
        model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, batch_size,
            workers, device, log_frequency, callbacks: see :class:`nasops.trainer.Trainer`.
        mutator: a :class:`DartsMutator` (or subclass) on ``model``; by default a new one.
        arc_learning_rate: learning rate of the architecture parameters.
        unrolled: second-order DARTS: take the validation loss after one virtual SGD step of
            the weights (``optimizer``'s first group gives lr, momentum and weight decay; an
            absent momentum or weight decay counts as 0). NNI's version never applied the
            virtual step; this one does (:mod:`nasops.algorithms.darts.unrolled`).
        memory: ``"default"``, or ``"recompute"`` to recompute the candidates in backward, one
            at a time, instead of keeping their activations (on the CPU only those with
            weights; sets ``mutator.memory``; see :mod:`nasops.ops.recompute`): much less
            memory, about one more forward per step.
        compile: run the model's forward of both steps under ``torch.compile(fullgraph=True)``
            (``True``: inductor; a string names another backend), see
            :mod:`nasops.algorithms.compiled`. The unrolled step's evaluations on virtual
            weights and the validation stay eager. Not with ``memory="recompute"``.

    The architecture step runs the model in training mode, once (first order) or four times
    (``unrolled``), so BatchNorm running statistics see those batches too (as in the DARTS
    reference code).
    The architecture parameters get no gradient from the weight step.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Any,
        metrics: Any,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset_train: Any,
        dataset_valid: Any,
        mutator: DartsMutator | None = None,
        batch_size: int = 64,
        workers: int = 4,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        callbacks: list[Any] | None = None,
        arc_learning_rate: float = 3.0e-4,
        unrolled: bool = False,
        memory: str = "default",
        compile: Compile = False,
    ) -> None:
        check_compile(compile, check_memory(memory))
        super().__init__(
            model,
            mutator if mutator is not None else DartsMutator(model),
            loss,
            metrics,
            optimizer,
            num_epochs,
            dataset_train,
            dataset_valid,
            batch_size,
            workers,
            device,
            log_frequency,
            callbacks,
            split_train=True,
        )
        self.ctrl_optim = torch.optim.Adam(
            self.mutator.parameters(), arc_learning_rate, betas=(0.5, 0.999), weight_decay=1.0e-3
        )
        self.unrolled = unrolled
        self.mutator.memory = memory
        self.forward = compiled_forward(self.model, compile)

    def train_step(self, batch: Any) -> dict[str, float]:
        """One architecture step on the architecture batch, then one weight step."""
        (trn_X, trn_y), (val_X, val_y) = batch
        self.ctrl_optim.zero_grad()
        if self.unrolled:
            self._unrolled_backward(trn_X, trn_y, val_X, val_y)
        else:
            self._backward(val_X, val_y)
        self.ctrl_optim.step()
        return self.weight_step(trn_X, trn_y)

    def logits_and_loss(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """The weight step's forward: :meth:`_logits_and_loss` with the architecture frozen."""
        with self._architecture_frozen():
            return self._logits_and_loss(X, y)

    # ----------------------------------------------- NNI's helpers (override points kept)

    def _logits_and_loss(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """Resample the architecture (``mutator.reset()``), then the model's logits and loss."""
        self.mutator.reset()
        logits = self.forward(X)
        return logits, self.loss(logits, y)

    def _backward(self, val_X: torch.Tensor, val_y: torch.Tensor) -> None:
        """First-order DARTS: the gradient of the validation loss, into the architecture only."""
        # The weights are frozen for this forward: only α's gradient is taken, and a
        # recomputed candidate then skips its weights' gradients as autograd does otherwise.
        with _frozen(list(self._weights().values())):
            _, loss = self._logits_and_loss(val_X, val_y)
        alphas = self._alphas()
        if alphas:
            loss.backward(inputs=alphas)

    def _unrolled_backward(
        self,
        trn_X: torch.Tensor,
        trn_y: torch.Tensor,
        val_X: torch.Tensor,
        val_y: torch.Tensor,
    ) -> None:
        """Second-order DARTS: the validation loss after a virtual weight step, into α's grad."""
        group = self.optimizer.param_groups[0]
        lr = group["lr"]
        virtual = self._compute_virtual_model(
            trn_X, trn_y, lr, group.get("momentum", 0.0), group.get("weight_decay", 0.0)
        )
        alphas = self._alphas()
        inputs = [*virtual.values(), *alphas]
        loss = self._loss_at(virtual, val_X, val_y)
        grads = grads_or_zeros(torch.autograd.grad(loss, inputs, allow_unused=True), inputs)
        d_weights, d_alphas = grads[: len(virtual)], grads[len(virtual) :]
        hessian = self._compute_hessian(self._weights(), d_weights, trn_X, trn_y)
        with torch.no_grad():
            for alpha, d, h in zip(alphas, d_alphas, hessian, strict=True):
                grad = d - lr * h
                alpha.grad = grad if alpha.grad is None else alpha.grad + grad

    def _compute_virtual_model(
        self,
        X: torch.Tensor,
        y: torch.Tensor,
        lr: float,
        momentum: float,
        weight_decay: float,
    ) -> Weights:
        """The weights ``w'`` after one SGD step on ``(X, y)``; the model keeps its own."""
        weights = self._weights()
        _, loss = self._logits_and_loss(X, y)
        grads = torch.autograd.grad(loss, list(weights.values()), allow_unused=True)
        buffers = [self.optimizer.state.get(w, {}).get("momentum_buffer") for w in weights.values()]
        return virtual_step(weights, grads, lr, momentum, weight_decay, buffers)

    def _compute_hessian(
        self,
        weights: Weights,
        dw: list[torch.Tensor],
        trn_X: torch.Tensor,
        trn_y: torch.Tensor,
    ) -> list[torch.Tensor]:
        """``∇²_{α,w} L_train(weights, α) · dw`` per architecture parameter (central
        differences)."""
        return hessian_vector_product(self._loss_at, weights, dw, self._alphas(), trn_X, trn_y)

    # ------------------------------------------------------------------------------ helpers

    def _loss_at(self, weights: Weights, X: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The loss with ``weights`` in place of the model's parameters (no copy, no write)."""
        self.mutator.reset()
        logits = functional_call(self.model, weights, (X,))
        return self.loss(logits, y)

    def _weights(self) -> Weights:
        return {name: w for name, w in self.model.named_parameters() if w.requires_grad}

    def _alphas(self) -> list[torch.Tensor]:
        return [alpha for alpha in self.mutator.parameters() if alpha.requires_grad]

    def _architecture_frozen(self) -> contextlib.AbstractContextManager[None]:
        # The weight step does not move α: computing α's gradient there (NNI did, then
        # discarded it) only costs time and memory.
        return _frozen(self._alphas())


@contextlib.contextmanager
def _frozen(tensors: list[torch.Tensor]) -> Iterator[None]:
    """``tensors`` do not require grad inside the block."""
    for tensor in tensors:
        tensor.requires_grad_(False)
    try:
        yield
    finally:
        for tensor in tensors:
            tensor.requires_grad_(True)
