"""``SPOSSearch``: both halves of SPOS in one process, supernet training then evolution.

NNI runs SPOS as two programs: a supernet training script, then an nnictl experiment whose
tuner is :class:`SPOSEvolution` and whose trials each load the supernet, apply one candidate
and report its accuracy. Here the evolution asks, and each candidate is scored at once on the
trained supernet's shared weights; the tuner protocol between them is the same. Under
torch.distributed every rank evolves alike and ends with rank 0's best.
"""

import json
import os
from typing import Any

import torch

from nasops.algorithms.classic_nas.space import generate_search_space, parameters_to_masks
from nasops.algorithms.ranking import validation_loss
from nasops.algorithms.spos.evolution import Candidate, NoMoreTrialError, SPOSEvolution
from nasops.algorithms.spos.trainer import SPOSSupernetTrainer
from nasops.distributed import architecture_rng, broadcast_buffers, is_main_process
from nasops.trainer import TorchTensorEncoder


class SPOSSearch:
    """Train ``trainer``'s supernet, then evolve its architectures with ``evolution``.

    Each candidate's reward is minus its mean loss on ``trainer.valid_loader`` with the
    supernet's weights in eval mode (the loss separates candidates that a small validation
    set's accuracy ties). :meth:`export` writes the best candidate as NNI's one-hot JSON.

    Args:
        trainer: the supernet's trainer (its mutator's LayerChoices are the search space).
        evolution: the tuner; its search space is set here.

    Attributes:
        best: the best candidate so far (classic-mode parameters) and its reward, or ``None``.
        evaluated: how many candidates were scored.
    """

    def __init__(self, trainer: SPOSSupernetTrainer, evolution: SPOSEvolution) -> None:
        self.trainer = trainer
        self.evolution = evolution
        self.best: tuple[Candidate, float] | None = None
        self.evaluated = 0

    @property
    def progress(self) -> bool:
        """Whether the supernet training shows progress bars."""
        return self.trainer.progress

    @progress.setter
    def progress(self, value: bool) -> None:
        self.trainer.progress = value

    def train(self, validate: bool = True) -> None:
        """Train the supernet (validating each epoch when ``validate``), then evolve."""
        self.trainer.train(validate)
        self.evolve()

    def evolve(self) -> tuple[Candidate, float]:
        """Run the evolution to its end; returns the best candidate and its reward."""
        mutator = self.trainer.mutator
        space = generate_search_space(mutator.mutables)
        self.evolution.update_search_space(space)
        self.trainer.model.eval()
        mutator.eval()
        broadcast_buffers(self.trainer.model)  # every rank scores on rank 0's statistics
        bar = _bar(self.progress)
        # The mutation's coin flips come from numpy's global generator: one stream for all ranks.
        with torch.no_grad(), architecture_rng(self.evolution):
            while True:
                try:
                    candidate = self.evolution.generate_parameters(self.evaluated)
                except NoMoreTrialError:
                    break  # each trial ends at once, so nothing is pending: the search is over
                masks = parameters_to_masks(candidate, mutator.mutables, space)
                reward = -validation_loss(self.trainer, masks).item()
                self.evolution.receive_trial_result(self.evaluated, candidate, reward)
                self.evolution.trial_end(self.evaluated, True)
                if self.best is None or reward > self.best[1]:
                    self.best = candidate, reward
                self.evaluated += 1
                if bar is not None:
                    bar.set_postfix_str(f"best loss {-self.best[1]:.4f}", refresh=False)
                    bar.update()
        if bar is not None:
            bar.close()
        if self.best is None:
            raise RuntimeError("SPOSSearch: the evolution handed out no candidate to evaluate")
        return self.best

    def export(self, file: str | os.PathLike[str]) -> None:
        """Write the best candidate to ``file`` as one-hot bool lists (what
        ``apply_fixed_architecture`` reads and NNI's evolution writes); rank 0 alone writes."""
        if self.best is None:
            raise RuntimeError("SPOSSearch.export: call train() or evolve() first")
        mutator = self.trainer.mutator
        space = generate_search_space(mutator.mutables)
        masks = parameters_to_masks(self.best[0], mutator.mutables, space)
        if not is_main_process():  # under torch.distributed, rank 0 alone writes
            return
        with open(file, "w") as f:
            json.dump(masks, f, indent=2, sort_keys=True, cls=TorchTensorEncoder)


def _bar(progress: bool) -> Any:
    """A progress bar counting the scored candidates, or ``None``."""
    if not progress or not is_main_process():
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="evolution", unit="candidate", leave=False, dynamic_ncols=True)
