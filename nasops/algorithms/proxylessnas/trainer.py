"""``ProxylessNasTrainer``: ProxylessNAS' warm-up, then weight steps with scheduled gate steps."""

import json
import logging
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import BatchSampler, DataLoader

from nasops.algorithms.base import OneShotTrainer
from nasops.algorithms.proxylessnas.mutator import FORWARD_MODES, ProxylessNasMutator
from nasops.distributed import is_main_process
from nasops.trainer import TorchTensorEncoder
from nasops.utils import to_device

_logger = logging.getLogger("nasops.algorithms")

WARMUP_LR = 0.05  # the warm-up's cosine starts here, whatever init_lr is (as in NNI)
ARCH_INIT_TYPES = ("normal", "uniform")


def top_k_accuracy(logits: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
    """Cross-entropy ``loss``, ``acc1`` and ``acc5`` (fractions; top-5 is over all classes
    when there are fewer than 5)."""
    top = logits.topk(min(5, logits.size(1)), dim=1).indices
    hits = top == y.view(-1, 1)
    return {
        "loss": nn.functional.cross_entropy(logits, y).item(),
        "acc1": hits[:, :1].any(1).float().mean().item(),
        "acc5": hits.any(1).float().mean().item(),
    }


class ProxylessNasTrainer(OneShotTrainer):
    """ProxylessNAS search with NNI's arguments and schedule.

    ``warmup_epochs`` epochs (when ``warmup``) train the weights on random single paths with a
    cosine learning rate from 0.05; then ``n_epochs`` search epochs do the same from
    ``init_lr`` and, from the second search epoch on, after every
    ``grad_update_arch_param_every``-th batch take ``grad_update_steps`` architecture steps:
    a batch of ``valid_loader`` (at the training batch size) through the gates in
    ``binary_mode``, plain cross-entropy, Adam (``betas=(0.0, 0.999)``) on the logits.
    Validation (after every warm-up epoch and every ``arch_valid_frequency`` search epochs)
    runs each LayerChoice's most probable candidate on ``valid_loader`` in train mode, as NNI.

    Args:
        model: the network; a :class:`ProxylessNasMutator` is built on it here.
        model_optim: the weights' optimizer; its learning rate is set every batch.
        device: where to train; on CUDA the model is wrapped in ``nn.DataParallel``.
        train_loader, valid_loader: the data loaders (the trainer does not alter them; the
            architecture steps read ``valid_loader``'s dataset and sampler through a loader of
            their own, with ``drop_last``).
        label_smoothing: of the weights' cross-entropy (0: none).
        n_epochs, init_lr: the search epochs and their initial learning rate.
        binary_mode: forward mode of the architecture steps: 'full_v2', 'full' or 'two'.
        arch_init_type, arch_init_ratio: logits drawn from ``N(0, ratio)`` ("normal") or
            ``U(-ratio, ratio)`` ("uniform").
        arch_optim_lr, arch_weight_decay: of the logits' Adam.
        grad_update_arch_param_every, grad_update_steps: the architecture step schedule.
        warmup, warmup_epochs: the warm-up.
        arch_valid_frequency: validate every this many search epochs.
        load_ckpt, ckpt_path: resume from ``ckpt_path`` (required then); after every epoch the
            trainer writes its checkpoint there when it is set.
        arch_path: after every epoch, :meth:`export` the current architecture there when set.
        callbacks: :class:`nasops.callbacks.Callback` objects told when each epoch begins and
            ends (a nasops addition; NNI's trainer takes none).

    NNI's trainer subclasses ``BaseTrainer`` with a loop of its own; this one runs on the
    shared :class:`~nasops.algorithms.base.OneShotTrainer` loop (progress bar, meters, logs,
    ``history``), given the user's loaders as they are. Differences from NNI: it runs
    on the CPU, a checkpoint holds the epoch counters of the *next* epoch to run (NNI's
    resumed by repeating the last one) and the model's state_dict without DataParallel's
    ``module.`` prefix (loading accepts either), and ``validate()`` works.
    """

    def __init__(
        self,
        model: nn.Module,
        model_optim: torch.optim.Optimizer,
        device: torch.device | str | None,
        train_loader: DataLoader,
        valid_loader: DataLoader,
        label_smoothing: float = 0.1,
        n_epochs: int = 120,
        init_lr: float = 0.025,
        binary_mode: str = "full_v2",
        arch_init_type: str = "normal",
        arch_init_ratio: float = 1e-3,
        arch_optim_lr: float = 1e-3,
        arch_weight_decay: float = 0,
        grad_update_arch_param_every: int = 5,
        grad_update_steps: int = 1,
        warmup: bool = True,
        warmup_epochs: int = 25,
        arch_valid_frequency: int = 1,
        load_ckpt: bool = False,
        ckpt_path: str | None = None,
        arch_path: str | None = None,
        callbacks: list[Any] | None = None,
    ) -> None:
        if binary_mode not in FORWARD_MODES[1:]:
            raise ValueError(f"binary_mode must be one of {FORWARD_MODES[1:]}, got {binary_mode!r}")
        if arch_init_type not in ARCH_INIT_TYPES:
            raise NotImplementedError(
                f"arch_init_type must be one of {ARCH_INIT_TYPES}, got {arch_init_type!r}"
            )
        mutator = ProxylessNasMutator(model)
        self.warmup_epochs = warmup_epochs if warmup else 0
        self.train_batch_size = train_loader.batch_sampler.batch_size
        super().__init__(
            model,
            mutator,
            nn.CrossEntropyLoss(label_smoothing=label_smoothing),
            top_k_accuracy,
            model_optim,
            self.warmup_epochs + n_epochs,
            train_loader.dataset,
            valid_loader.dataset,
            batch_size=self.train_batch_size,
            workers=0,
            device=device,
            log_frequency=10,
            callbacks=callbacks,
            grad_clip=None,
            loaders=(train_loader, valid_loader),
        )
        self.model_optim = model_optim
        self.n_epochs, self.init_lr, self.warmup = n_epochs, init_lr, warmup
        self.label_smoothing = label_smoothing
        self.binary_mode = binary_mode
        self.grad_update_arch_param_every = grad_update_arch_param_every
        self.grad_update_steps = grad_update_steps
        self.arch_valid_frequency = arch_valid_frequency
        self.load_ckpt, self.ckpt_path, self.arch_path = load_ckpt, ckpt_path, arch_path
        self.criterion = nn.CrossEntropyLoss()
        self.warmup_curr_epoch = self.train_curr_epoch = 0
        if self.device.type == "cuda":
            self.model = nn.DataParallel(self.model)
        self._init_arch_params(arch_init_type, arch_init_ratio)
        self.arch_optimizer = torch.optim.Adam(
            self.mutator.get_architecture_parameters(),
            arch_optim_lr,
            weight_decay=arch_weight_decay,
            betas=(0.0, 0.999),
            eps=1e-8,
        )
        self._arch_loader = DataLoader(
            valid_loader.dataset,
            batch_sampler=BatchSampler(valid_loader.sampler, self.train_batch_size, True),
            num_workers=valid_loader.num_workers,
            collate_fn=valid_loader.collate_fn,
            pin_memory=valid_loader.pin_memory,
        )
        self._valid_iter: Any = None
        self._epoch = 0

    def _init_arch_params(self, init_type: str, init_ratio: float) -> None:
        with torch.no_grad():
            for param in self.mutator.get_architecture_parameters():
                if init_type == "normal":
                    param.normal_(0, init_ratio)
                else:
                    param.uniform_(-init_ratio, init_ratio)

    # ------------------------------------------------------------------------ the schedule

    def train(self, validate: bool = True) -> None:
        """Resume from ``ckpt_path`` when ``load_ckpt``; run the remaining warm-up and search
        epochs; after each, validate when scheduled and write the checkpoint and the
        architecture."""
        if self.load_ckpt:
            self.load_checkpoint()
        start = min(self.warmup_curr_epoch, self.warmup_epochs) + self.train_curr_epoch
        for epoch in range(start, self.num_epochs):
            for callback in self.callbacks:
                callback.on_epoch_begin(epoch)
            self.train_one_epoch(epoch)
            search_epoch = epoch - self.warmup_epochs
            if validate and (
                search_epoch < 0 or (search_epoch + 1) % self.arch_valid_frequency == 0
            ):
                self.validate_one_epoch(epoch)
            if search_epoch < 0:
                self.warmup_curr_epoch += 1
            else:
                self.train_curr_epoch += 1
            self.save_checkpoint()
            for callback in self.callbacks:
                callback.on_epoch_end(epoch)

    def train_one_epoch(self, epoch: int) -> Any:
        """One warm-up epoch (``epoch < warmup_epochs``) or search epoch."""
        self._epoch = epoch
        phase = "Warm-up" if epoch < self.warmup_epochs else "Search"
        _logger.info("%s epoch %d", phase, epoch + 1)
        return super().train_one_epoch(epoch)

    def train_batches(self) -> Iterable[Any]:
        """``(batch index, (X, y))``: the index sets the learning rate and the gate steps."""
        return enumerate(self.train_loader)

    def train_step(self, batch: Any) -> dict[str, float]:
        """A weight step on a random single path, then the scheduled architecture steps."""
        step, (X, y) = batch
        lr = self._set_learning_rate(step)
        self.mutator.reset_binary_gates()
        self.mutator.unused_modules_off()
        try:
            metrics = self.weight_step(X, y)
        finally:
            self.mutator.unused_modules_back()
        metrics["lr"] = lr
        search_epoch = self._epoch - self.warmup_epochs
        if search_epoch > 0 and (step + 1) % self.grad_update_arch_param_every == 0:
            for _ in range(self.grad_update_steps):
                metrics["arch_loss"] = self._gradient_step()
        return metrics

    def _set_learning_rate(self, step: int) -> float:
        """The cosine schedule of the current phase, per batch."""
        batches = len(self.train_loader)
        if self._epoch < self.warmup_epochs:
            peak, epoch, epochs = WARMUP_LR, self._epoch, self.warmup_epochs
        else:
            peak, epoch, epochs = self.init_lr, self._epoch - self.warmup_epochs, self.n_epochs
        lr = 0.5 * peak * (1 + math.cos(math.pi * (epoch * batches + step) / (epochs * batches)))
        for group in self.model_optim.param_groups:
            group["lr"] = lr
        return lr

    def _valid_next_batch(self) -> Any:
        """The next architecture batch, restarting ``valid_loader`` when it runs out."""
        if self._valid_iter is not None:
            batch = next(self._valid_iter, None)
            if batch is not None:
                return batch
        self._valid_iter = iter(self._arch_loader)
        batch = next(self._valid_iter, None)
        if batch is None:
            raise ValueError(
                f"valid_loader holds fewer samples ({len(self._arch_loader.sampler)}) than one "
                f"training batch ({self.train_batch_size}), the batch size of the "
                "architecture steps"
            )
        return batch

    def _gradient_step(self) -> float:
        """One Adam step of the logits from the gates' gradients in ``binary_mode``."""
        self.model.train()
        self.mutator.change_forward_mode(self.binary_mode)
        self.mutator.arch_requires_grad()
        X, y = to_device(self._valid_next_batch(), self.device)
        try:
            self.mutator.reset_binary_gates()
            self.mutator.unused_modules_off()
            loss = self.criterion(self.model(X), y)
            self.model.zero_grad()
            loss.backward()
            self.mutator.set_arch_param_grad()
            self.arch_optimizer.step()
            if self.binary_mode == "two":
                self.mutator.rescale_updated_arch_param()
        finally:
            self.mutator.unused_modules_back()
            self.mutator.change_forward_mode(None)
            self.mutator.arch_disable_grad()
        return loss.item()

    # ---------------------------------------------------------------------------- validation

    def prepare_validation(self) -> None:
        """Run the most probable candidates, the others detached, in train mode (NNI
        validates the supernet with batch statistics)."""
        self.mutator.set_chosen_op_active()
        self.mutator.unused_modules_off()
        self.model.train()

    def validate_one_epoch(self, epoch: int) -> Any:
        try:
            return super().validate_one_epoch(epoch)
        finally:
            self.mutator.unused_modules_back()

    # ------------------------------------------------------------------- export, checkpoints

    def export(self, file: str) -> None:
        """Write ``mutator.sample_final()`` (each LayerChoice's most probable candidate) as
        NNI's JSON (the mutator's ``export()`` is not implemented, as in NNI)."""
        if not is_main_process():  # under torch.distributed, rank 0 alone writes
            return
        with open(file, "w") as f:
            json.dump(
                self.mutator.sample_final(), f, indent=2, sort_keys=True, cls=TorchTensorEncoder
            )

    def save_checkpoint(self) -> None:
        """Write the checkpoint to ``ckpt_path`` and the architecture to ``arch_path`` (each
        when set)."""
        if self.ckpt_path:
            state = {
                "warmup_curr_epoch": self.warmup_curr_epoch,
                "train_curr_epoch": self.train_curr_epoch,
                "model": _unwrapped(self.model).state_dict(),
                "optim": self.model_optim.state_dict(),
                "arch_optim": self.arch_optimizer.state_dict(),
            }
            torch.save(state, self.ckpt_path)
        if self.arch_path:
            self.export(self.arch_path)

    def load_checkpoint(self) -> None:
        """Restore the counters, the model, and both optimizers from ``ckpt_path``."""
        assert self.ckpt_path is not None, "If load_ckpt is not None, ckpt_path should not be None"
        ckpt = torch.load(self.ckpt_path, map_location=self.device)
        self.warmup_curr_epoch = ckpt["warmup_curr_epoch"]
        self.train_curr_epoch = ckpt["train_curr_epoch"]
        state = {k.removeprefix("module."): v for k, v in ckpt["model"].items()}
        _unwrapped(self.model).load_state_dict(state)
        self.model_optim.load_state_dict(ckpt["optim"])
        self.arch_optimizer.load_state_dict(ckpt["arch_optim"])


def _unwrapped(model: nn.Module) -> nn.Module:
    return model.module if isinstance(model, nn.DataParallel) else model
