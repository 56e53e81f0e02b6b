"""``OneShotTrainer``: the one training loop every nasops algorithm runs.

An algorithm supplies its mutator and one method, :meth:`OneShotTrainer.train_step` (what a
batch does: a weight step, an architecture step, or both); the loop, the data loaders, the
progress bar, the logging every ``log_frequency`` steps, the validation and the per-epoch
history live here once.
"""

import logging
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler, SubsetRandomSampler

from nasops import distributed
from nasops.trainer import Trainer
from nasops.utils import AverageMeterGroup, to_device

_logger = logging.getLogger("nasops.algorithms")


class OneShotTrainer(Trainer):
    """Shared loop of the one-shot trainers; subclasses implement :meth:`train_step`.

    Args:
        split_train: split ``dataset_train`` in two halves, one for the weights
            (``train_loader``) and one for the architecture (``valid_loader``), as DARTS does;
            otherwise ``train_loader`` reads all of ``dataset_train`` and ``valid_loader`` reads
            ``dataset_valid``. ``test_loader`` always reads ``dataset_valid``.
        grad_clip: clip the weights' gradient norm to this in :meth:`weight_step`
            (``None``: no clipping).
        loaders: ready-made ``(train_loader, valid_loader)``, used as they are (the datasets
            and ``split_train`` are then unused); ``test_loader`` is ``valid_loader``. For the
            NNI trainers whose signature takes loaders (SPOS, ProxylessNAS).

    The other arguments are :class:`nasops.trainer.Trainer`'s. After each validation the
    epoch's averages are appended to ``history``: ``{"epoch", "train": {...}, "valid": {...}}``.
    Set ``progress = False`` to hide the progress bars.

    Under ``torch.distributed`` (see :mod:`nasops.distributed` and docs/distributed.md) each rank
    trains on its shard of the training data, the first epoch starts from rank 0's weights and
    architecture parameters, gradients are averaged before every optimizer step, validation
    runs on rank 0's BatchNorm statistics, and only rank 0 shows progress and logs.
    """

    def __init__(
        self,
        model: nn.Module,
        mutator: Any,
        loss: Any,
        metrics: Any,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset_train: Any,
        dataset_valid: Any,
        batch_size: int = 64,
        workers: int = 4,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        callbacks: list[Any] | None = None,
        split_train: bool = False,
        grad_clip: float | None = 5.0,
        loaders: tuple[Iterable[Any], Iterable[Any]] | None = None,
    ) -> None:
        super().__init__(
            model,
            mutator,
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
        )
        self.grad_clip = grad_clip
        self.progress = True
        self.history: list[dict[str, Any]] = []
        self._train_meters: dict[str, float] = {}
        self.split_train = split_train
        if loaders is not None:
            if split_train:
                raise ValueError("split_train=True splits a dataset; it cannot split given loaders")
            self.train_loader, self.valid_loader = loaders
            self.test_loader = self.valid_loader
        elif split_train:
            n_train = len(dataset_train)
            split = n_train // 2
            indices = list(range(n_train))
            self.train_loader = self._loader(dataset_train, self._subset_sampler(indices[:split]))
            self.valid_loader = self._loader(dataset_train, self._subset_sampler(indices[split:]))
            self.test_loader = self._loader(dataset_valid)
        elif distributed.is_distributed():
            shard = distributed.ShardSampler(range(len(dataset_train)))
            self.train_loader = self._loader(dataset_train, shard)
            self.valid_loader = self._loader(dataset_valid)
            self.test_loader = self._loader(dataset_valid)
        else:
            self.train_loader = self._loader(dataset_train, shuffle=True)
            self.valid_loader = self._loader(dataset_valid)
            self.test_loader = self._loader(dataset_valid)

    def _loader(self, dataset: Any, sampler: Any = None, shuffle: bool = False) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            shuffle=shuffle,
            num_workers=self.workers,
        )

    @staticmethod
    def _subset_sampler(indices: list[int]) -> Sampler[int]:
        """Shuffled ``indices`` each pass; under ``torch.distributed``, this rank's shard."""
        if distributed.is_distributed():
            return distributed.ShardSampler(indices)
        return SubsetRandomSampler(indices)

    # ---------------------------------------------------------------- what algorithms override

    def train_step(self, batch: Any) -> dict[str, float]:
        """Train on one batch (already on ``device``); return its metrics, ``"loss"`` included."""
        raise NotImplementedError(f"{type(self).__name__} must implement train_step(batch)")

    def train_batches(self) -> Iterable[Any]:
        """The batches of one training epoch: ``train_loader``'s ``(X, y)``, or with
        ``split_train`` pairs of (weight batch, architecture batch), one from each half."""
        if self.split_train:
            return zip(self.train_loader, self.valid_loader, strict=False)  # halves differ by 1
        return self.train_loader

    def train_steps(self) -> int:
        """How many batches :meth:`train_batches` yields (for the progress bar and the log):
        with ``split_train``, the shorter half's count (``zip`` stops there)."""
        if self.split_train:
            return min(len(self.train_loader), len(self.valid_loader))
        return len(self.train_loader)

    def prepare_validation(self) -> None:
        """Set the architecture validation runs on (default: one ``mutator.reset()``)."""
        self.mutator.reset()

    # ------------------------------------------------------------------------ shared helpers

    def logits_and_loss(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """``model(X)`` and its loss on the current architecture (no reset)."""
        logits = self.model(X)
        return logits, self.loss(logits, y)

    def weight_step(self, X: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """One optimizer step of the weights on the current architecture; returns metrics."""
        self.optimizer.zero_grad()
        logits, loss = self.logits_and_loss(X, y)
        loss.backward()
        distributed.average_before_step(self.optimizer)  # before clipping, as DDP averages
        if self.grad_clip is not None:
            nn.utils.clip_grad_norm_(self.model.parameters(), self.grad_clip)
        self.optimizer.step()
        metrics = dict(self.metrics(logits, y))
        metrics["loss"] = loss.item()
        return metrics

    # -------------------------------------------------------------------------------- the loop

    def train_one_epoch(self, epoch: int) -> AverageMeterGroup:
        """Run :meth:`train_step` over :meth:`train_batches`, with a progress bar and logs."""
        distributed.prepare_trainer(self)  # the first time, under torch.distributed
        self.model.train()
        self.mutator.train()
        meters = AverageMeterGroup()
        total = self.train_steps()
        batches = self._bar(self.train_batches(), total, f"epoch {epoch + 1}/{self.num_epochs}")
        for step, batch in enumerate(batches):
            meters.update(self.train_step(to_device(batch, self.device)))
            self._write_graph_status()
            self._log(epoch, step, total, meters, batches)
        self._train_meters = _averages(meters)
        return meters

    def validate_one_epoch(self, epoch: int) -> AverageMeterGroup:
        """Evaluate ``test_loader`` on :meth:`prepare_validation`'s architecture."""
        self.model.eval()
        self.mutator.eval()
        meters = AverageMeterGroup()
        total = len(self.test_loader)
        distributed.broadcast_buffers(self.model)
        with torch.no_grad():
            self.prepare_validation()
            for step, (X, y) in enumerate(self.test_loader):
                X, y = X.to(self.device), y.to(self.device)
                meters.update(self.metrics(self.model(X), y))
                self._log(epoch, step, total, meters, None)
        if distributed.is_main_process():
            _logger.info("Epoch %d validation: %s", epoch + 1, meters.summary())
        record = {"epoch": epoch, "train": self._train_meters, "valid": _averages(meters)}
        self.history.append(record)
        return meters

    def _bar(self, batches: Iterable[Any], total: int, desc: str) -> Iterable[Any]:
        if not self.progress or not distributed.is_main_process():
            return batches
        from tqdm.auto import tqdm

        return tqdm(batches, total=total, desc=desc, leave=False, dynamic_ncols=True)

    def _log(self, epoch: int, step: int, total: int, meters: AverageMeterGroup, bar: Any) -> None:
        if hasattr(bar, "set_postfix_str"):
            bar.set_postfix_str(meters.summary(), refresh=False)
        if (
            self.log_frequency is not None
            and step % self.log_frequency == 0
            and distributed.is_main_process()
        ):
            _logger.info(
                "Epoch [%s/%s] Step [%s/%s]  %s",
                epoch + 1,
                self.num_epochs,
                step + 1,
                total,
                meters,
            )


def _averages(meters: AverageMeterGroup) -> dict[str, float]:
    return {name: meter.avg for name, meter in meters.meters.items()}
