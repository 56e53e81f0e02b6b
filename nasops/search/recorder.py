"""``SearchRecorder``: the callback that keeps what ``search.png`` draws, epoch by epoch: the
trainer's averages and, in a DARTS-family search, every edge's softmax weights.
"""

from collections.abc import Callable
from typing import Any

import torch

from nasops.callbacks import Callback


class SearchRecorder(Callback):
    """Records each epoch's ``{"epoch", "train", "valid"}`` averages and the edge weights.

    Args:
        candidates: LayerChoice key → the names of all its candidates (as built, before any
            P-DARTS stage removed some).
        learns_weights: record ``softmax(mutator.choices[key])`` per key (DARTS, P-DARTS, GDAS).
        staged: the trainer runs stages (P-DARTS): this callback is told about stages, reads
            each finished stage's epochs from ``trainer.trainer.history`` and the weights at the
            stage's end.
        report: called with each new epoch record (to print it).

    Attributes:
        history: one record per epoch, numbered from 1 across stages; a staged search adds
            ``"stage"``.
        weights: key → one row per recorded epoch: a weight per original candidate (``None``
            where P-DARTS dropped it), then the zero op's weight (``None`` without one, GDAS).
        weight_epochs: the epoch of each row of ``weights``.
    """

    def __init__(
        self,
        candidates: dict[str, list[str]],
        learns_weights: bool,
        staged: bool = False,
        report: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        super().__init__()
        self.candidates = candidates
        self.learns_weights = learns_weights
        self.staged = staged
        self.report = report
        self.history: list[dict[str, Any]] = []
        self.weights: dict[str, list[list[float | None]]] = {key: [] for key in candidates}
        self.weight_epochs: list[int] = []

    def on_epoch_end(self, epoch: int) -> None:
        """Keep the epoch's (or the stage's) averages and the weights now."""
        if self.staged:
            new = [{**record, "stage": epoch} for record in self.trainer.trainer.history]
        else:
            new = self.trainer.history[-1:]
        for record in new:
            record = {**record, "epoch": len(self.history) + 1}
            self.history.append(record)
            if self.report is not None:
                self.report(record)
        if self.learns_weights and self.history:
            self._record_weights()

    def _record_weights(self) -> None:
        switches = getattr(self.mutator, "switches", {})
        for key, names in self.candidates.items():
            probabilities = torch.softmax(self.mutator.choices[key].detach().float(), -1).tolist()
            kept = switches.get(key, [True] * len(names))
            n_kept = sum(kept)
            survivors = iter(probabilities[:n_kept])
            row: list[float | None] = [next(survivors) if on else None for on in kept]
            row.append(probabilities[n_kept] if len(probabilities) == n_kept + 1 else None)
            self.weights[key].append(row)
        self.weight_epochs.append(self.history[-1]["epoch"])
