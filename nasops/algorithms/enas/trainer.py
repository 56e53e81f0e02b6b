"""``EnasTrainer``: ENAS search, alternating child-network steps and REINFORCE controller steps."""

from collections.abc import Iterable, Iterator
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader, Sampler

from nasops.algorithms.base import OneShotTrainer
from nasops.algorithms.enas.mutator import EnasMutator

CHILD, CONTROLLER = "child", "controller"


class EnasTrainer(OneShotTrainer):
    """ENAS search (NNI's ``EnasTrainer``): each epoch first trains the shared weights for
    ``child_steps`` batches, each on a fresh sample of the controller, then trains the
    controller for ``mutator_steps`` Adam steps, each averaging the REINFORCE loss of
    ``mutator_steps_aggregate`` samples rewarded on held-out batches.

    ``dataset_train`` is split 9:1: the first 90% train the weights, the last 10% reward the
    controller; ``dataset_valid`` is the test set of each epoch's validation. Both training
    streams run on endlessly, across epochs, reshuffled at every pass.

    Args:
        model, loss, metrics, optimizer, num_epochs, dataset_train, dataset_valid, batch_size,
            workers, device, log_frequency, callbacks: see :class:`nasops.trainer.Trainer`.
        reward_function: called with the logits and the targets of a held-out batch, returns
            the reward of the sampled architecture (a number or a one-element tensor).
        mutator: an :class:`EnasMutator` on ``model``; by default a new one.
        entropy_weight: the sample's entropy times this is added to the reward (0: not).
        skip_weight: weight of the controller's skip penalty in its loss (0: no penalty).
        baseline_decay: the moving baseline becomes
            ``baseline_decay * baseline + (1 - baseline_decay) * reward`` after every reward.
        child_steps: weight steps per epoch.
        mutator_lr: learning rate of the controller's Adam.
        mutator_steps_aggregate: samples whose losses are averaged into one controller step.
        mutator_steps: controller steps per epoch.
        aux_weight: weight of the auxiliary head's loss, when the model returns
            ``(logits, aux_logits)``.
        test_arc_per_epoch: architectures sampled and validated after each epoch (one
            validation pass, and one ``history`` record, each).

    Each sample's controller loss is ``sample_log_prob * (reward - baseline)``, plus
    ``skip_weight * sample_skip_penalty``; gradient norms are clipped to 5 for the weights and
    for the controller. The weight steps sample without a graph to the controller; the
    controller steps run the model in eval mode, without gradients. The training meters hold
    the weight steps' ``loss`` and metrics, and the controller's ``reward``, ``baseline``,
    ``ctrl_loss``, ``ent``, ``log_prob`` and ``skip``.
    """

    def __init__(
        self,
        model: nn.Module,
        loss: Any,
        metrics: Any,
        reward_function: Any,
        optimizer: torch.optim.Optimizer,
        num_epochs: int,
        dataset_train: Any,
        dataset_valid: Any,
        mutator: EnasMutator | None = None,
        batch_size: int = 64,
        workers: int = 4,
        device: torch.device | str | None = None,
        log_frequency: int | None = None,
        callbacks: list[Any] | None = None,
        entropy_weight: float = 0.0001,
        skip_weight: float = 0.8,
        baseline_decay: float = 0.999,
        child_steps: int = 500,
        mutator_lr: float = 0.00035,
        mutator_steps_aggregate: int = 20,
        mutator_steps: int = 50,
        aux_weight: float = 0.4,
        test_arc_per_epoch: int = 1,
    ) -> None:
        if len(dataset_train) < 2:
            raise ValueError(
                f"EnasTrainer: dataset_train needs at least 2 samples (one to train the weights, "
                f"one to reward the controller), got {len(dataset_train)}"
            )
        super().__init__(
            model,
            mutator if mutator is not None else EnasMutator(model),
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
        self.reward_function = reward_function
        self.mutator_optim = torch.optim.Adam(self.mutator.parameters(), lr=mutator_lr)
        self.entropy_weight = entropy_weight
        self.skip_weight = skip_weight
        self.baseline_decay = baseline_decay
        self.baseline = 0.0
        self.mutator_steps_aggregate = mutator_steps_aggregate
        self.mutator_steps = mutator_steps
        self.child_steps = child_steps
        self.aux_weight = aux_weight
        self.test_arc_per_epoch = test_arc_per_epoch
        self.init_dataloader()

    def init_dataloader(self) -> None:
        """The 9:1 split of ``dataset_train`` into ``train_loader`` and ``valid_loader`` (at
        least one sample in each), and the endless batch streams drawn from them."""
        n_train = len(self.dataset_train)
        split = max(1, n_train // 10)
        indices = list(range(n_train))
        self.train_loader = self._stream_loader(self._subset_sampler(indices[:-split]))
        self.valid_loader = self._stream_loader(self._subset_sampler(indices[-split:]))
        self._train_stream = _endless(self.train_loader)
        self._valid_stream = _endless(self.valid_loader)

    def _stream_loader(self, sampler: Sampler[int]) -> DataLoader:
        # Workers persist: the streams re-iterate the loader at every pass, and a small
        # dataset would otherwise start ``workers`` new processes every few batches.
        return DataLoader(
            self.dataset_train,
            batch_size=self.batch_size,
            sampler=sampler,
            num_workers=self.workers,
            persistent_workers=self.workers > 0,
        )

    # ------------------------------------------------------------- the shared loop's hooks

    def train_batches(self) -> Iterable[Any]:
        """``(phase, step, batch)``: ``child_steps`` weight batches, then the controller's."""
        for step in range(self.child_steps):
            yield CHILD, step, next(self._train_stream)
        for step in range(self.mutator_steps * self.mutator_steps_aggregate):
            yield CONTROLLER, step, next(self._valid_stream)

    def train_steps(self) -> int:
        """Weight steps plus controller samples per epoch."""
        return self.child_steps + self.mutator_steps * self.mutator_steps_aggregate

    def train_step(self, batch: Any) -> dict[str, float]:
        """A weight step or one controller sample, as the batch's phase says."""
        phase, step, (X, y) = batch
        if phase == CHILD:
            return self.child_step(step, X, y)
        return self.controller_step(step, X, y)

    def logits_and_loss(self, X: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, Any]:
        """The logits and loss, the auxiliary head's loss (times ``aux_weight``) included."""
        output = self.model(X)
        if isinstance(output, tuple):
            logits, aux_logits = output
            return logits, self.loss(logits, y) + self.aux_weight * self.loss(aux_logits, y)
        return output, self.loss(output, y)

    # --------------------------------------------------------------------------- the steps

    def child_step(self, step: int, X: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """One weight step on a fresh sample (drawn without a graph to the controller)."""
        if step == 0:
            self.model.train()
            self.mutator.eval()
        with torch.no_grad():
            self.mutator.reset()
        return self.weight_step(X, y)

    def controller_step(self, step: int, X: torch.Tensor, y: torch.Tensor) -> dict[str, float]:
        """One controller sample rewarded on ``(X, y)``; every ``mutator_steps_aggregate``
        samples, one clipped Adam step of the controller."""
        if step == 0:
            self.model.eval()
            self.mutator.train()
        if step % self.mutator_steps_aggregate == 0:
            self.mutator_optim.zero_grad()
        self.mutator.reset()
        with torch.no_grad():
            logits = self.model(X)
        if isinstance(logits, tuple):
            logits = logits[0]
        reward = float(self.reward_function(logits, y))
        entropy = float(self.mutator.sample_entropy)
        if self.entropy_weight:
            reward += self.entropy_weight * entropy
        self.update_baseline(reward)
        loss = self.mutator.sample_log_prob * (reward - self.baseline)
        if self.skip_weight:
            loss = loss + self.skip_weight * self.mutator.sample_skip_penalty
        (loss / self.mutator_steps_aggregate).backward()
        if (step + 1) % self.mutator_steps_aggregate == 0:
            nn.utils.clip_grad_norm_(self.mutator.parameters(), 5.0)
            self.mutator_optim.step()
        return {
            "reward": reward,
            "baseline": self.baseline,
            "ctrl_loss": float(loss.detach()),
            "ent": entropy,
            "log_prob": float(_detached(self.mutator.sample_log_prob)),
            "skip": float(_detached(self.mutator.sample_skip_penalty)),
        }

    def update_baseline(self, reward: float) -> float:
        """Move the baseline towards ``reward`` (exponential moving average); return it."""
        self.baseline = self.baseline * self.baseline_decay + reward * (1 - self.baseline_decay)
        return self.baseline

    def validate_one_epoch(self, epoch: int) -> Any:
        """Validate ``test_arc_per_epoch`` sampled architectures, one pass each."""
        meters = None
        for _ in range(self.test_arc_per_epoch):
            meters = super().validate_one_epoch(epoch)
        return meters


def _detached(value: Any) -> Any:
    """A tensor detached from its graph; a plain number (no choice of that kind) as it is."""
    return value.detach() if isinstance(value, torch.Tensor) else value


def _endless(loader: DataLoader) -> Iterator[Any]:
    """The loader's batches over and over (a new shuffle each pass), never cached."""
    while True:
        yield from loader
