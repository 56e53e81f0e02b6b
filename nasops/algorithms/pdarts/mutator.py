"""``PdartsMutator``: a DARTS mutator over the candidates that survived earlier P-DARTS stages."""

from collections.abc import Mapping, Sequence

import torch
from torch import nn

from nasops.algorithms.darts import DartsMutator
from nasops.mutables import LayerChoice

Switches = dict[str, list[bool]]


class PdartsMutator(DartsMutator):
    """DARTS on a model whose dropped candidates are removed (one stage of P-DARTS).

    Args:
        model: a freshly built model with every candidate.
        pdarts_epoch_index: the stage this mutator searches (index into
            ``pdarts_num_to_drop``).
        pdarts_num_to_drop: how many candidates each stage drops per LayerChoice.
        switches: LayerChoice key → one flag per original candidate, False where an earlier
            stage dropped it (a missing key keeps every candidate). Copied, never modified.

    The dropped candidates are deleted from the model's LayerChoices, and each key's
    architecture parameter has one logit per kept candidate plus the zero op.
    """

    def __init__(
        self,
        model: nn.Module,
        pdarts_epoch_index: int,
        pdarts_num_to_drop: Sequence[int],
        switches: Mapping[str, Sequence[bool]] | None = None,
    ) -> None:
        super().__init__(model)
        self.pdarts_epoch_index = pdarts_epoch_index
        self.pdarts_num_to_drop = list(pdarts_num_to_drop)
        given = {key: [bool(s) for s in value] for key, value in (switches or {}).items()}
        self.switches: Switches = {}
        keys = [m.key for m in self.mutables if isinstance(m, LayerChoice)]
        unknown = sorted(set(given) - set(keys))
        if unknown:
            raise ValueError(
                f"switches has keys {unknown} that are no LayerChoice of the model; "
                f"its LayerChoice keys are {keys}"
            )
        for mutable in self.mutables:
            if isinstance(mutable, LayerChoice):
                kept = given.get(mutable.key, [True] * len(mutable))
                if not any(kept):
                    raise ValueError(
                        f"switches[{mutable.key!r}] = {kept} keeps no candidate: a stage must "
                        "leave at least one (lower pdarts_num_to_drop)"
                    )
                self.switches[mutable.key] = kept
                self.choices[mutable.key] = nn.Parameter(1.0e-3 * torch.randn(sum(kept) + 1))
        for module in self.model.modules():
            if isinstance(module, LayerChoice):
                self._drop_candidates(module, self.switches[module.key])

    @staticmethod
    def _drop_candidates(module: LayerChoice, switches: list[bool]) -> None:
        """Delete the switched-off candidates of ``module`` (unless already deleted)."""
        if len(module) == len(switches):
            for index in reversed(range(len(switches))):
                if not switches[index]:
                    del module[index]
        if len(module) != sum(switches):
            raise ValueError(
                f"LayerChoice '{module.key}' has {len(module)} candidates, but its switches "
                f"{switches} need {len(switches)} (all) or {sum(switches)} (those kept)"
            )

    def export(self) -> dict[str, torch.Tensor]:
        """``sample_final()`` with each LayerChoice mask widened back to the original
        candidates (dropped ones False); bool tensors, not NNI's human-readable form."""
        results = self.sample_final()
        for key, switches in self.switches.items():
            full = torch.zeros(len(switches), dtype=torch.bool)
            kept = [i for i, on in enumerate(switches) if on]
            full[kept] = results[key].cpu()
            results[key] = full
        return results

    def drop_paths(self) -> Switches:
        """The switches for the next stage: in each LayerChoice, the
        ``pdarts_num_to_drop[pdarts_epoch_index]`` kept candidates with the smallest logits
        (the zero op excluded) are switched off. ``self.switches`` is not changed."""
        num_to_drop = self.pdarts_num_to_drop[self.pdarts_epoch_index]
        result = {}
        for key, switches in self.switches.items():
            kept = [i for i, on in enumerate(switches) if on]
            weakest = torch.argsort(self.choices[key].detach()[:-1], stable=True)[:num_to_drop]
            new = list(switches)
            for position in weakest.tolist():
                new[kept[position]] = False
            result[key] = new
        return result
