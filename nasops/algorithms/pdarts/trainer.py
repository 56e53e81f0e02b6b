"""``PdartsTrainer``: progressive DARTS, a deeper network and fewer candidates at each stage."""

import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from torch import nn

from nasops._memory import check_memory
from nasops.algorithms.compiled import Compile, check_compile
from nasops.algorithms.darts import DartsTrainer
from nasops.algorithms.pdarts.mutator import PdartsMutator, Switches
from nasops.base_trainer import BaseTrainer
from nasops.callbacks import LRSchedulerCallback
from nasops.distributed import is_main_process
from nasops.trainer import TorchTensorEncoder

_logger = logging.getLogger("nasops.algorithms.pdarts")

ModelCreator = Callable[[int], tuple[nn.Module, Any, Any, Any]]


class PdartsTrainer(BaseTrainer):
    """P-DARTS search (NNI's ``PdartsTrainer``): one DARTS search per stage.

    Stage ``i`` builds ``model_creator(init_layers + pdarts_num_layers[i])``, which returns
    ``(model, criterion, optimizer, lr_scheduler)`` (the scheduler may be None and is stepped
    every epoch), removes the candidates earlier stages dropped, runs a :class:`DartsTrainer`
    for ``num_epochs`` epochs, then drops ``pdarts_num_to_drop[i]`` more candidates per
    LayerChoice: those with the smallest architecture logits. There are
    ``len(pdarts_num_to_drop)`` stages.

    Args:
        metrics, num_epochs, dataset_train, dataset_valid, batch_size, workers, device,
            log_frequency, unrolled, arc_learning_rate, memory, compile: passed to each stage's
            :class:`DartsTrainer` (``arc_learning_rate`` is nasops'; NNI's stages always used
            DARTS' default).
        callbacks: told about stages as epochs (``on_epoch_begin(stage)``, ...), built anew
            with each stage's model and mutator.
        mutator: unused, as in NNI (each stage builds its :class:`PdartsMutator`).

    After :meth:`train`, ``mutator`` and ``trainer`` are the last stage's. Set
    ``progress = False`` to hide the stages' progress bars.
    """

    def __init__(
        self,
        model_creator: ModelCreator,
        init_layers: int,
        metrics: Any,
        num_epochs: int,
        dataset_train: Any,
        dataset_valid: Any,
        pdarts_num_layers: Sequence[int] = (0, 6, 12),
        pdarts_num_to_drop: Sequence[int] = (3, 2, 1),
        mutator: Any = None,
        batch_size: int = 64,
        workers: int = 4,
        device: Any = None,
        log_frequency: int | None = None,
        callbacks: list[Any] | None = None,
        unrolled: bool = False,
        arc_learning_rate: float = 3.0e-4,
        memory: str = "default",
        compile: Compile = False,
    ) -> None:
        check_compile(compile, check_memory(memory))
        if len(pdarts_num_layers) < len(pdarts_num_to_drop):
            raise ValueError(
                f"pdarts_num_layers {list(pdarts_num_layers)} needs one entry per stage, i.e. "
                f"at least as many as pdarts_num_to_drop {list(pdarts_num_to_drop)}"
            )
        self.model_creator = model_creator
        self.init_layers = init_layers
        self.pdarts_num_layers = list(pdarts_num_layers)
        self.pdarts_num_to_drop = list(pdarts_num_to_drop)
        self.pdarts_epoch = len(self.pdarts_num_to_drop)
        self.darts_parameters = {
            "metrics": metrics,
            "num_epochs": num_epochs,
            "dataset_train": dataset_train,
            "dataset_valid": dataset_valid,
            "batch_size": batch_size,
            "workers": workers,
            "device": device,
            "log_frequency": log_frequency,
            "unrolled": unrolled,
            "arc_learning_rate": arc_learning_rate,
            "memory": memory,
            "compile": compile,
        }
        self.progress = True
        self.callbacks = callbacks if callbacks is not None else []
        self.mutator: PdartsMutator | None = None
        self.trainer: DartsTrainer | None = None

    def train(self) -> None:
        """Run every stage."""
        switches: Switches | None = None
        for stage in range(self.pdarts_epoch):
            layers = self.init_layers + self.pdarts_num_layers[stage]
            model, criterion, optimizer, lr_scheduler = self.model_creator(layers)
            self.mutator = PdartsMutator(model, stage, self.pdarts_num_to_drop, switches)
            for callback in self.callbacks:
                callback.build(model, self.mutator, self)
                callback.on_epoch_begin(stage)
            stage_callbacks = [] if lr_scheduler is None else [LRSchedulerCallback(lr_scheduler)]
            self.trainer = DartsTrainer(
                model,
                mutator=self.mutator,
                loss=criterion,
                optimizer=optimizer,
                callbacks=stage_callbacks,
                **self.darts_parameters,
            )
            self.trainer.progress = self.progress
            _logger.info("P-DARTS stage %d: %d layers", stage, layers)
            self.trainer.train()
            switches = self.mutator.drop_paths()
            for callback in self.callbacks:
                callback.on_epoch_end(stage)

    def validate(self) -> None:
        """Validate the last stage's model."""
        self._require_stage()
        self.trainer.validate()

    def export(self, file: str) -> None:
        """Write :meth:`PdartsMutator.export` to ``file`` as JSON (indent 2, sorted keys)."""
        self._require_stage()
        mutator_export = self.mutator.export()
        if not is_main_process():  # under torch.distributed, rank 0 alone writes
            return
        with open(file, "w") as f:
            json.dump(mutator_export, f, indent=2, sort_keys=True, cls=TorchTensorEncoder)

    def checkpoint(self) -> None:
        """Not implemented, as in NNI."""
        raise NotImplementedError("Not implemented yet")

    def _require_stage(self) -> None:
        if self.mutator is None or self.trainer is None:
            raise RuntimeError("PdartsTrainer has no stage yet: call train() first")
